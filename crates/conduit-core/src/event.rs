//! The canonical stream of response events that upstreams produce and dialects render.
//!
//! Shape: `MessageStart`, then for each content block `BlockStart`, `BlockDelta`*, `BlockStop`
//! (blocks never interleave, indices count up from 0), then exactly one `MessageEnd`. `Ping` may
//! appear anywhere. An `Err` item ends the stream; no event follows it.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::Error;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Error>> + Send>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    MessageStart {
        /// Message id, e.g. `msg_...`.
        id: String,
        /// The model name to report to the client (what it asked for).
        model: String,
        /// Input tokens as estimated before the upstream answered.
        input_tokens: u32,
    },
    BlockStart {
        index: usize,
        block: BlockStart,
    },
    BlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    BlockStop {
        index: usize,
    },
    MessageEnd {
        stop_reason: StopReason,
        usage: Usage,
    },
    /// Keepalive while the upstream is silent.
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockStart {
    Text,
    Thinking,
    /// Redacted reasoning: the whole block is in `data`; no delta follows, only `BlockStop`.
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum BlockDelta {
    Text(String),
    Thinking(String),
    /// The signature that closes a thinking block; sent once, just before `BlockStop`.
    ThinkingSignature(String),
    /// A fragment of a tool call's input JSON; the fragments of one block join to an object.
    InputJson(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
}

impl StopReason {
    /// Anthropic's spelling, also the canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::ToolUse => "tool_use",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
        }
    }
}

/// Token usage of one response, split as Anthropic splits it: `input_tokens` is the input
/// neither read from nor written to the prompt cache, so the whole input is
/// [`Usage::total_input_tokens`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub cache_read_input_tokens: u32,
    pub cache_creation_input_tokens: u32,
    /// The cache writes split by TTL, exactly as the upstream reported `usage.cache_creation`;
    /// `None` when it reported no split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
    /// Upstream credits this response cost (Kiro's `meteringEvent`s, summed), if reported.
    #[serde(default)]
    pub credits: Option<f64>,
    /// The token counts are the gateway's estimate, not the upstream's own.
    #[serde(default)]
    pub estimated: bool,
}

impl Usage {
    /// All input tokens: uncached + cache read + cache write.
    pub fn total_input_tokens(&self) -> u32 {
        self.input_tokens
            .saturating_add(self.cache_read_input_tokens)
            .saturating_add(self.cache_creation_input_tokens)
    }

    /// Cache writes as `(5-minute, 1-hour)` tokens: the upstream's TTL split when it reported
    /// one, else every write at the 5-minute TTL.
    pub fn cache_writes(&self) -> (u32, u32) {
        match self.cache_creation {
            Some(c) => (c.ephemeral_5m_input_tokens, c.ephemeral_1h_input_tokens),
            None => (self.cache_creation_input_tokens, 0),
        }
    }
}

/// Prompt-cache writes split by TTL (Anthropic's `usage.cache_creation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCreation {
    pub ephemeral_5m_input_tokens: u32,
    pub ephemeral_1h_input_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_writes_take_the_split_else_all_at_5m() {
        let split = CacheCreation {
            ephemeral_5m_input_tokens: 7,
            ephemeral_1h_input_tokens: 13,
        };
        let cases = [
            (None, 20, (20, 0)),
            (Some(split), 20, (7, 13)),
            (Some(CacheCreation::default()), 0, (0, 0)),
        ];
        for (cache_creation, total, want) in cases {
            let u = Usage {
                cache_creation_input_tokens: total,
                cache_creation,
                ..Usage::default()
            };
            assert_eq!(u.cache_writes(), want, "{cache_creation:?}");
        }
    }

    #[test]
    fn cache_creation_is_optional_on_the_wire() {
        let u: Usage = serde_json::from_str(
            r#"{"input_tokens":1,"output_tokens":2,"cache_read_input_tokens":3,"cache_creation_input_tokens":4}"#,
        )
        .unwrap();
        assert_eq!(u.cache_creation, None);
    }
}
