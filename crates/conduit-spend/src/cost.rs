//! Exact cost arithmetic: token counters times rates, in nano-dollars.

use serde::{Deserialize, Serialize};

use crate::rates::Rates;

/// The four disjoint input counters plus output of one request, exactly as the upstream
/// reported them (never derived from a "total prompt" minus something).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counters {
    /// Uncached input tokens; excludes cache reads and writes.
    pub input: u64,
    /// Tokens written to the cache with the 5-minute TTL (all writes when the upstream gave no
    /// TTL split).
    pub cache_write_5m: u64,
    /// Tokens written to the cache with the 1-hour TTL.
    pub cache_write_1h: u64,
    /// Tokens read from the cache.
    pub cache_read: u64,
    /// Output tokens.
    pub output: u64,
}

impl Counters {
    /// The whole prompt: input + cache reads + cache writes (what long-prompt bands look at).
    pub fn prompt(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write_5m)
            .saturating_add(self.cache_write_1h)
    }
}

/// Σ tokens × rate / 1000, in nano-dollars.
///
/// A rate in micro-dollars per million tokens times a token count is in pico-dollars, so the
/// division by 1000 gives nano-dollars. The sum is taken in `i128` and divided once, rounding
/// half away from zero; it is exact (no rounding at all) for every rate that is a multiple of
/// $0.001/MTok, which every list rate is. Saturates at the `i64` range.
pub fn cost_nanos(counters: &Counters, rates: &Rates) -> i64 {
    let terms = [
        (counters.input, rates.input),
        (counters.cache_write_5m, rates.write_5m),
        (counters.cache_write_1h, rates.write_1h),
        (counters.cache_read, rates.cache_read),
        (counters.output, rates.output),
    ];
    let pico: i128 = terms
        .iter()
        .map(|&(tokens, rate)| i128::from(tokens) * i128::from(rate))
        .sum();
    saturate(div_round(pico, 1000))
}

/// Nano-dollars as US dollars with six decimals (micro-dollar precision, rounded half away
/// from zero): `54_399_000` → `"0.054399"`.
pub fn usd(nanos: i64) -> String {
    let micros = div_round(i128::from(nanos), 1000);
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// `n / d` rounded half away from zero (`d > 0`).
pub(crate) fn div_round(n: i128, d: i128) -> i128 {
    let half = d / 2;
    if n >= 0 {
        (n + half) / d
    } else {
        (n - half) / d
    }
}

pub(crate) fn saturate(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}
