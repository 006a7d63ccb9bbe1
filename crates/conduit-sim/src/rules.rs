//! Scripted replies: choosing the rule for a request and turning its steps into a stream plan.

use std::time::Duration;

use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;

use crate::frames::{self, FrameError};
use crate::model::{Match, Rule, Step, ToolUseStep};
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

/// Split into `parts` pieces of near-equal character length (at least one).
fn split_parts(s: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let parts = parts.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(parts).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
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
    pub metering: f64,
}

/// Turn reply steps into the body plan. A stream ends with metering + context usage unless a
/// step cuts it, truncates a tool call or raises an exception.
pub(crate) fn plan(steps: &[Step], mut trailer: Trailer) -> Result<Vec<Action>, FrameError> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Delay { delay_ms } => out.push(Action::Delay(Duration::from_millis(*delay_ms))),
            Step::Text { text, chunk } => {
                for piece in split_chars(text, *chunk) {
                    out.push(Action::Frame(frames::text(&piece)?));
                }
            }
            Step::Thinking { thinking, chunk } => {
                let wrapped = format!("<thinking>{thinking}</thinking>\n\n");
                for piece in split_chars(&wrapped, *chunk) {
                    out.push(Action::Frame(frames::text(&piece)?));
                }
            }
            Step::ToolUse { tool_use } => {
                if tool_frames(tool_use, &mut out)? {
                    return Ok(out);
                }
            }
            Step::Exception { exception } => {
                out.push(Action::Frame(frames::exception(
                    &exception.kind,
                    &exception.message,
                )?));
                return Ok(out);
            }
            Step::Cut { cut: true } => {
                out.push(Action::Cut);
                return Ok(out);
            }
            Step::Cut { cut: false } => {}
            Step::ContextUsage { context_usage } => trailer.context_usage = *context_usage,
            Step::Metering { metering } => trailer.metering = *metering,
            Step::Event { event } => {
                out.push(Action::Frame(frames::event(
                    &event.event_type,
                    &event.payload,
                )?));
            }
        }
    }
    out.push(Action::Frame(frames::metering(trailer.metering)?));
    out.push(Action::Frame(frames::context_usage(trailer.context_usage)?));
    Ok(out)
}

/// The reply used when no rule matches.
pub(crate) fn default_reply() -> Vec<Step> {
    vec![Step::text(DEFAULT_TEXT)]
}
