//! Input tokens of an encoded Kiro request: what the model will read once the conversion has
//! placed the system prompt, tool documentation, thinking tags and placeholders. Both the
//! pre-send estimate and `count_tokens` use it, so Claude Code sizes compaction on the prompt
//! the upstream really gets (spec §9.8).
//!
//! The body is walked as JSON so that fields added to the wire types are counted without
//! changes here: every string counts, except ids, enums and signatures; tool schemas and tool
//! inputs count as their JSON text; each image counts as [`IMAGE_TOKENS`].

use conduit_core::tokens::{raw_count, CLAUDE_FACTOR, IMAGE_TOKENS};
use serde_json::Value;

use crate::wire::GenerateAssistantResponseRequest;

/// Framing per history message.
const MESSAGE_OVERHEAD: u64 = 4;
/// Framing per tool specification.
const TOOL_OVERHEAD: u64 = 12;

/// Members whose strings are not text the model reads.
const SKIPPED: &[&str] = &[
    "modelId",
    "origin",
    "conversationId",
    "chatTriggerType",
    "toolUseId",
    "status",
    "profileArn",
    "format",
    "signature",
    "redactedContent",
    "agentContinuationId",
    "agentTaskType",
];

/// Claude-scaled input tokens of `body`.
pub fn body_tokens(body: &GenerateAssistantResponseRequest) -> u32 {
    let Ok(json) = serde_json::to_value(body) else {
        return 0;
    };
    let mut count = Count::default();
    count.walk(&json);
    let scaled = (count.raw as f64 * CLAUDE_FACTOR).ceil() as u64;
    u32::try_from(scaled + count.fixed).unwrap_or(u32::MAX)
}

#[derive(Default)]
struct Count {
    raw: u64,
    fixed: u64,
}

impl Count {
    fn walk(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.raw += u64::from(raw_count(s)),
            Value::Array(items) => items.iter().for_each(|v| self.walk(v)),
            Value::Object(map) => {
                for (key, v) in map {
                    match key.as_str() {
                        k if SKIPPED.contains(&k) => {}
                        "images" => {
                            let n = v.as_array().map_or(0, Vec::len) as u64;
                            self.fixed += n * u64::from(IMAGE_TOKENS);
                        }
                        "json" | "input" => self.raw += u64::from(raw_count(&v.to_string())),
                        "userInputMessage" | "assistantResponseMessage" => {
                            self.fixed += MESSAGE_OVERHEAD;
                            self.walk(v);
                        }
                        "toolSpecification" => {
                            self.fixed += TOOL_OVERHEAD;
                            self.walk(v);
                        }
                        _ => self.walk(v),
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use conduit_core::{Message, Request};

    use super::*;
    use crate::convert::{encode_request, EncodeOptions};

    /// The system prompt and tool documentation the conversion adds are counted; ids are not.
    #[test]
    fn counts_what_the_conversion_adds() {
        let plain = Request {
            model: "claude-sonnet-4-5".into(),
            messages: vec![Message::user_text("hello there")],
            ..Request::default()
        };
        let with_system = Request {
            system: vec!["You are a careful assistant. ".repeat(50)],
            ..plain.clone()
        };
        let opts = EncodeOptions::default();
        let a = body_tokens(&encode_request(&plain, &opts).unwrap());
        let b = body_tokens(&encode_request(&with_system, &opts).unwrap());
        assert!(a < 20, "{a}");
        assert!(b > a + 250, "{a} {b}");
        let other_id = EncodeOptions {
            conversation_id: "x".repeat(200),
            ..EncodeOptions::default()
        };
        assert_eq!(body_tokens(&encode_request(&plain, &other_id).unwrap()), a);
    }
}
