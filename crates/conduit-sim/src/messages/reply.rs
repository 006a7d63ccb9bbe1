//! Scripted replies as Anthropic Messages events: the Kiro rule engine's steps become text,
//! thinking (signed), redacted_thinking and tool_use blocks between message_start and
//! message_stop.

use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};

use super::cache::InputUsage;
use crate::model::Step;
use crate::reasoning::{self, split_parts};

/// One thing the reply does, in order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// One Messages event (`{"type": ...}`).
    Event(Value),
    Delay(Duration),
    /// A mid-stream exception (a ResponseStream member name such as `throttlingException`);
    /// ends the reply.
    Exception {
        kind: String,
        message: String,
    },
    /// Drop the connection; ends the reply.
    Cut,
}

/// What the planner needs besides the steps.
#[derive(Debug, Clone)]
pub(crate) struct ReplyInput {
    pub message_id: String,
    pub model: String,
    pub usage: InputUsage,
    pub max_tokens: Option<u64>,
    /// Add `amazon-bedrock-invocationMetrics` to message_stop.
    pub bedrock_metrics: bool,
    /// `toolu_bdrk_` (Bedrock) or `toolu_` (Anthropic API).
    pub tool_prefix: &'static str,
}

/// A planned reply and what it reports.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub items: Vec<Item>,
    /// Output tokens reported in message_delta (1 until then).
    pub output_tokens: u64,
    /// Whether the reply reaches message_stop.
    pub complete: bool,
    /// redacted_thinking `data` values sent.
    pub redacted: Vec<String>,
}

/// `{prefix}` + 24 base62 characters.
pub(crate) fn random_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    )
}

fn pieces(s: &str, chunk: Option<usize>, default_parts: usize) -> Vec<String> {
    match chunk {
        Some(n) if n > 0 && !s.is_empty() => {
            let chars: Vec<char> = s.chars().collect();
            chars.chunks(n).map(|c| c.iter().collect()).collect()
        }
        _ => split_parts(s, default_parts),
    }
}

struct Planner<'a> {
    key: &'a [u8; 32],
    tool_prefix: &'static str,
    out: Reply,
    index: u64,
    /// The open text block, if any (consecutive text steps share one block).
    text_open: bool,
    output_chars: usize,
    max_chars: Option<usize>,
    stop_reason: &'static str,
    delay_ms: u64,
}

impl Planner<'_> {
    fn event(&mut self, v: Value) {
        self.out.items.push(Item::Event(v));
    }

    fn close_text(&mut self) {
        if self.text_open {
            self.text_open = false;
            let index = self.index;
            self.event(json!({"type": "content_block_stop", "index": index}));
            self.index += 1;
        }
    }

    fn start(&mut self, block: Value) -> u64 {
        self.close_text();
        let index = self.index;
        self.event(json!({"type": "content_block_start", "index": index, "content_block": block}));
        index
    }

    fn stop(&mut self, index: u64) {
        self.event(json!({"type": "content_block_stop", "index": index}));
        self.index += 1;
    }

    /// A text step; false when `max_tokens` cut it (the reply then ends).
    fn text(&mut self, text: &str, chunk: Option<usize>) -> bool {
        let mut text = text.to_owned();
        let mut cut = false;
        if let Some(max) = self.max_chars {
            let room = max.saturating_sub(self.output_chars);
            if text.chars().count() > room {
                text = text.chars().take(room).collect();
                cut = true;
            }
        }
        if !self.text_open {
            self.start(json!({"type": "text", "text": ""}));
            self.text_open = true;
        }
        self.output_chars += text.chars().count();
        for p in pieces(&text, chunk, 1)
            .into_iter()
            .filter(|p| !p.is_empty())
        {
            let index = self.index;
            self.event(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "text_delta", "text": p}}));
        }
        if cut {
            self.stop_reason = "max_tokens";
        }
        !cut
    }

    fn thinking(&mut self, text: &str, signed: bool, chunk: Option<usize>) {
        let index = self.start(json!({"type": "thinking", "thinking": "", "signature": ""}));
        self.output_chars += text.chars().count();
        for p in pieces(text, chunk, 3) {
            self.event(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "thinking_delta", "thinking": p}}));
        }
        if signed {
            let sig = reasoning::sign(self.key, text);
            self.event(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "signature_delta", "signature": sig}}));
        }
        self.stop(index);
    }

    fn redacted(&mut self) {
        let data = reasoning::new_redacted();
        self.output_chars += data.len();
        let index = self.start(json!({"type": "redacted_thinking", "data": data}));
        self.out.redacted.push(data);
        self.stop(index);
    }

    /// A tool call; false when it is truncated (the reply then ends without a stop).
    fn tool_use(&mut self, t: &crate::model::ToolUseStep) -> bool {
        let id = t.id.clone().unwrap_or_else(|| random_id(self.tool_prefix));
        let input = t.input.to_string();
        self.output_chars += t.name.len() + input.len();
        let index = self.start(json!({"type": "tool_use", "id": id, "name": t.name, "input": {}}));
        let mut parts = split_parts(&input, t.fragments.unwrap_or(2));
        if t.truncate {
            parts.pop();
        }
        for p in parts {
            self.event(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": p}}));
        }
        if t.truncate {
            self.out.items.push(Item::Cut);
            return false;
        }
        self.stop(index);
        self.stop_reason = "tool_use";
        true
    }

    /// Handle one step; false ends the reply early.
    fn step(&mut self, step: &Step) -> bool {
        match step {
            Step::Delay { delay_ms } => {
                self.delay_ms += delay_ms;
                self.out
                    .items
                    .push(Item::Delay(Duration::from_millis(*delay_ms)));
            }
            Step::Text { text, chunk } => return self.text(text, *chunk),
            Step::Thinking { thinking, chunk } => self.thinking(thinking, true, *chunk),
            Step::Reasoning {
                reasoning,
                signed,
                chunk,
            } => self.thinking(reasoning, signed.unwrap_or(true), *chunk),
            Step::RedactedReasoning { redacted_reasoning } => {
                if *redacted_reasoning {
                    self.redacted();
                }
            }
            Step::ToolUse { tool_use } => return self.tool_use(tool_use),
            Step::Exception { exception } => {
                self.out.items.push(Item::Exception {
                    kind: exception.kind.clone(),
                    message: exception.message.clone(),
                });
                return false;
            }
            Step::Cut { cut } => {
                if *cut {
                    self.out.items.push(Item::Cut);
                    return false;
                }
            }
            Step::Event { event } => {
                let mut payload = event.payload.clone();
                if let Value::Object(m) = &mut payload {
                    m.entry("type").or_insert_with(|| json!(event.event_type));
                }
                self.event(payload);
            }
            Step::ContextUsage { .. } | Step::Metering { .. } => {}
        }
        true
    }
}

/// Plan the reply. When `thinking` is asked for and the steps have no reasoning, a signed
/// default thinking block comes first.
pub(crate) fn plan(steps: &[Step], input: &ReplyInput, thinking: bool, key: &[u8; 32]) -> Reply {
    let mut p = Planner {
        key,
        tool_prefix: input.tool_prefix,
        out: Reply {
            output_tokens: 1,
            ..Reply::default()
        },
        index: 0,
        text_open: false,
        output_chars: 0,
        max_chars: input.max_tokens.map(|t| (t as usize).saturating_mul(4)),
        stop_reason: "end_turn",
        delay_ms: 0,
    };
    let u = input.usage;
    p.event(json!({"type": "message_start", "message": {
        "id": input.message_id, "type": "message", "role": "assistant", "model": input.model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": u.json(1)}}));
    let has_reasoning = steps.iter().any(|s| {
        matches!(
            s,
            Step::Reasoning { .. } | Step::Thinking { .. } | Step::RedactedReasoning { .. }
        )
    });
    if thinking && !has_reasoning {
        p.thinking(crate::rules::DEFAULT_REASONING, true, None);
    }
    for step in steps {
        if !p.step(step) && p.stop_reason != "max_tokens" {
            p.out.output_tokens = 1;
            return p.out;
        }
        if p.stop_reason == "max_tokens" {
            break;
        }
    }
    p.close_text();
    let output_tokens = crate::rules::tokens_of(p.output_chars).max(1);
    p.out.output_tokens = output_tokens;
    let stop_reason = p.stop_reason;
    // Cumulative, as Anthropic writes it: the input and cache fields again, with the output.
    p.event(json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": u.json(output_tokens)}));
    let mut stop = json!({"type": "message_stop"});
    if input.bedrock_metrics {
        stop["amazon-bedrock-invocationMetrics"] = json!({
            "inputTokenCount": u.input_tokens, "outputTokenCount": output_tokens,
            "invocationLatency": p.delay_ms + 40, "firstByteLatency": 20,
            "cacheReadInputTokenCount": u.cache_read_input_tokens,
            "cacheWriteInputTokenCount": u.cache_creation_input_tokens});
    }
    p.event(stop);
    p.out.complete = true;
    p.out
}

/// The reply used when no rule matches: the default text (thinking is added by [`plan`]).
pub(crate) fn default_steps() -> Vec<Step> {
    vec![Step::text(crate::rules::DEFAULT_TEXT)]
}
