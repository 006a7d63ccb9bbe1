//! Scripted replies: choosing the rule for a request and turning its steps into a stream plan.

use std::time::Duration;

use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;

use crate::frames::{self, FrameError};
use crate::model::{Match, Rule, Step, ToolUseStep};
use crate::reasoning::split_parts;
use crate::state::State;
use crate::validate::ChatView;

/// The answer when no rule matches.
pub const DEFAULT_TEXT: &str = "Hello from the Kiro simulator.";

/// One thing the response body does, in order.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Frame(Bytes),
    Delay(Duration),
    /// Drop the connection without the terminating chunk.
    Cut,
}

fn matches(m: &Match, view: &ChatView, token: &str) -> bool {
    m.contains
        .as_ref()
        .is_none_or(|c| view.content.contains(c.as_str()))
        && m.has_tool_results
            .is_none_or(|h| h == view.has_tool_results)
        && m.tool_result_contains.as_ref().is_none_or(|c| {
            view.tool_result_texts
                .iter()
                .any(|t| t.contains(c.as_str()))
        })
        && m.model
            .as_ref()
            .is_none_or(|x| view.model.as_deref() == Some(x.as_str()))
        && m.access_token.as_ref().is_none_or(|t| t == token)
}

impl State {
    /// The first rule that fits, counting one use of it (and removing it when used up).
    pub fn take_rule(&mut self, view: &ChatView, token: &str) -> Option<Rule> {
        let idx = self
            .rules
            .iter()
            .position(|r| matches(&r.rule.matcher, view, token))?;
        let entry = self.rules.get_mut(idx)?;
        let rule = entry.rule.clone();
        if let Some(n) = entry.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rules.remove(idx);
            }
        }
        Some(rule)
    }
}

/// Split into pieces of at most `chunk` characters (the whole string if `chunk` is 0 or absent).
fn split_chars(s: &str, chunk: Option<usize>) -> Vec<String> {
    let n = chunk.unwrap_or(0);
    if n == 0 || s.is_empty() {
        return vec![s.to_owned()];
    }
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// `tooluse_` + 22 base62 characters, like the real ids.
pub(crate) fn tool_use_id() -> String {
    format!(
        "tooluse_{}",
        Alphanumeric.sample_string(&mut rand::rng(), 22)
    )
}

/// Frames of one tool call: start, an empty `input`, the fragments, stop (spec §4.2).
/// Returns whether the call was truncated (which ends the stream).
fn tool_frames(t: &ToolUseStep, out: &mut Vec<Action>) -> Result<bool, FrameError> {
    let id = t.id.clone().unwrap_or_else(tool_use_id);
    let name = &t.name;
    out.push(Action::Frame(frames::event(
        "toolUseEvent",
        &json!({"name": name, "toolUseId": id}),
    )?));
    let mut pieces = vec![String::new()];
    pieces.extend(split_parts(&t.input.to_string(), t.fragments.unwrap_or(2)));
    if t.truncate {
        pieces.pop();
    }
    for p in pieces {
        out.push(Action::Frame(frames::event(
            "toolUseEvent",
            &json!({"input": p, "name": name, "toolUseId": id}),
        )?));
    }
    if t.truncate {
        return Ok(true);
    }
    out.push(Action::Frame(frames::event(
        "toolUseEvent",
        &json!({"name": name, "stop": true, "toolUseId": id}),
    )?));
    Ok(false)
}

/// Usage numbers for the stream trailer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trailer {
    pub context_usage: f64,
    /// Overrides the computed credit charge.
    pub metering: Option<f64>,
    /// Input tokens of the request (request JSON chars / 4, rounded up).
    pub input_tokens: u64,
    /// The model's `rateMultiplier`.
    pub rate_multiplier: f64,
    /// Send `metadataEvent.tokenUsage`.
    pub token_usage: bool,
}

/// What planning a reply produced besides its frames.
#[derive(Debug, Default)]
pub(crate) struct Planned {
    pub actions: Vec<Action>,
    /// The credits of the `meteringEvent` sent, if the stream ends with the trailer.
    pub credits: Option<f64>,
    /// `redactedContent` values sent (the sim accepts them back in history).
    pub redacted: Vec<String>,
}

/// Output characters → tokens (÷ 4, rounded up).
pub(crate) fn tokens_of(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The credit charge: `rateMultiplier` × 0.01 per started 1000 tokens, at least one unit
/// (4 decimals).
pub(crate) fn credits_for(rate: f64, tokens: u64) -> f64 {
    let units = tokens.div_ceil(1000).max(1) as f64;
    (rate * 0.01 * units * 10_000.0).round() / 10_000.0
}

/// Turn reply steps into the body plan. A stream ends with metering, context usage and (unless
/// disabled) token usage, unless a step cuts it, truncates a tool call or raises an exception.
pub(crate) fn plan(
    steps: &[Step],
    mut trailer: Trailer,
    mac_key: &[u8; 32],
) -> Result<Planned, FrameError> {
    let mut p = Planned::default();
    let out = &mut p.actions;
    let mut output_chars = 0usize;
    for step in steps {
        match step {
            Step::Delay { delay_ms } => out.push(Action::Delay(Duration::from_millis(*delay_ms))),
            Step::Text { text, chunk } => {
                output_chars += text.chars().count();
                for piece in split_chars(text, *chunk) {
                    out.push(Action::Frame(frames::text(&piece)?));
                }
            }
            Step::Thinking { thinking, chunk } => {
                let wrapped = format!("<thinking>{thinking}</thinking>\n\n");
                output_chars += wrapped.chars().count();
                for piece in split_chars(&wrapped, *chunk) {
                    out.push(Action::Frame(frames::text(&piece)?));
                }
            }
            Step::Reasoning {
                reasoning,
                signed,
                chunk,
            } => {
                output_chars += reasoning.chars().count();
                let signed = signed.unwrap_or(true);
                for f in crate::reasoning::block_frames(mac_key, reasoning, *chunk, signed)? {
                    out.push(Action::Frame(f));
                }
            }
            Step::RedactedReasoning {
                redacted_reasoning: true,
            } => {
                let value = crate::reasoning::new_redacted();
                output_chars += value.len();
                out.push(Action::Frame(crate::reasoning::redacted_frame(&value)?));
                p.redacted.push(value);
            }
            Step::RedactedReasoning {
                redacted_reasoning: false,
            } => {}
            Step::ToolUse { tool_use } => {
                output_chars += tool_use.name.len() + tool_use.input.to_string().len();
                if tool_frames(tool_use, out)? {
                    return Ok(p);
                }
            }
            Step::Exception { exception } => {
                out.push(Action::Frame(frames::exception(
                    &exception.kind,
                    &exception.message,
                )?));
                return Ok(p);
            }
            Step::Cut { cut: true } => {
                out.push(Action::Cut);
                return Ok(p);
            }
            Step::Cut { cut: false } => {}
            Step::ContextUsage { context_usage } => trailer.context_usage = *context_usage,
            Step::Metering { metering } => trailer.metering = Some(*metering),
            Step::Event { event } => {
                out.push(Action::Frame(frames::event(
                    &event.event_type,
                    &event.payload,
                )?));
            }
        }
    }
    let output_tokens = tokens_of(output_chars);
    let credits = trailer.metering.unwrap_or_else(|| {
        credits_for(
            trailer.rate_multiplier,
            trailer.input_tokens + output_tokens,
        )
    });
    out.push(Action::Frame(frames::metering(credits)?));
    out.push(Action::Frame(frames::context_usage(trailer.context_usage)?));
    if trailer.token_usage {
        out.push(Action::Frame(frames::token_usage(
            trailer.input_tokens,
            output_tokens,
        )?));
    }
    p.credits = Some(credits);
    Ok(p)
}

/// The reasoning of the default reply to a request that asked for effort.
pub const DEFAULT_REASONING: &str =
    "The user greeted me. A short, friendly answer is all this needs.";

/// The reply used when no rule matches: the text, after one signed reasoning block when the
/// request asked for `output_config.effort` on a model whose schema admits it.
pub(crate) fn default_reply(reasoning: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if reasoning {
        steps.push(Step::reasoning(DEFAULT_REASONING));
    }
    steps.push(Step::text(DEFAULT_TEXT));
    steps
}
