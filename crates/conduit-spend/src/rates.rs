//! The five per-token rates of one model, in micro-dollars per million tokens.

use serde::{Deserialize, Serialize};

/// List or override rates of one model. Every field is **micro-dollars per million tokens**:
/// `$3.75/MTok` is `3_750_000`.
///
/// The five are stored as published, never derived from the input rate by multipliers: cache
/// reads no longer follow one ratio across models (Opus 5.5 reads at 0.05×, Fable 5.1 at 0.025×).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rates {
    /// Uncached input tokens (`usage.input_tokens`).
    pub input: i64,
    /// Output tokens, thinking included.
    pub output: i64,
    /// Cache hits and refreshes (`cache_read_input_tokens`).
    pub cache_read: i64,
    /// Cache writes with the 5-minute TTL (the default).
    pub write_5m: i64,
    /// Cache writes with the 1-hour TTL.
    pub write_1h: i64,
}

/// A higher set of rates that applies to a whole request once its prompt is large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Band {
    /// The band applies when the prompt (input + cache reads + cache writes) is **more than**
    /// this many tokens; then every token of the request, output included, takes [`Band::rates`].
    pub above_prompt_tokens: u64,
    /// The rates of a request over the threshold.
    pub rates: Rates,
}
