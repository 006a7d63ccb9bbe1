//! Anthropic Messages SSE events (as an upstream sends them) → canonical [`Event`]s.
//!
//! Block indices are renumbered: blocks the canonical stream has no form for (server tool use,
//! web search results) are skipped, and the rest count up from 0. Usage takes the last value
//! per field across `message_start` and `message_delta` (never summed), the cache-write TTL
//! split included ([`super::usage`]); the canonical
//! `MessageEnd` is emitted at `message_stop`.

use std::collections::HashMap;

use conduit_core::{BlockDelta, BlockStart, Error, ErrorKind, Event, StopReason, Usage};
use serde::Deserialize;
use serde_json::Value;

use super::errors::error_from_event;
use super::usage::WireUsage;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    MessageStart {
        message: WireMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Value,
    },
    ContentBlockDelta {
        index: usize,
        delta: Value,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        #[serde(default)]
        delta: WireMessageDelta,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default)]
struct WireMessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Turns one upstream's Messages events into canonical events, one SSE event per
/// [`EventDecoder::feed`].
#[derive(Debug)]
pub struct EventDecoder {
    message_id: String,
    model: String,
    usage: Usage,
    stop_reason: Option<StopReason>,
    /// Upstream block index → canonical index, for blocks kept.
    blocks: HashMap<usize, usize>,
    next_index: usize,
    started: bool,
    finished: bool,
}

impl EventDecoder {
    /// `message_id` and `model` are what the client sees (the gateway's id, the client's model
    /// name), whatever the upstream reports.
    pub fn new(message_id: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            model: model.into(),
            usage: Usage::default(),
            stop_reason: None,
            blocks: HashMap::new(),
            next_index: 0,
            started: false,
            finished: false,
        }
    }

    /// Whether `message_stop` (or an error) has been seen: nothing more is expected.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The usage reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// The canonical events for one SSE event (`event:` name, `data:` JSON). An `Err` ends the
    /// stream: an `error` event, JSON that is not a Messages event, or events out of order.
    pub fn feed(&mut self, name: &str, data: &[u8]) -> Vec<Result<Event, Error>> {
        if self.finished {
            return vec![];
        }
        let wire: Wire = match serde_json::from_slice(data) {
            Ok(w) => w,
            Err(e) => {
                self.finished = true;
                return vec![Err(protocol(format!(
                    "the upstream sent a `{name}` event that is not a Messages event: {e}"
                )))];
            }
        };
        let out = self.event(wire);
        if out.iter().any(Result::is_err) {
            self.finished = true;
        }
        out
    }

    /// The error to report when the upstream's stream ended here; `None` after `message_stop`.
    pub fn finish(&mut self) -> Option<Error> {
        if self.finished {
            return None;
        }
        self.finished = true;
        Some(protocol(
            "the upstream's stream ended before `message_stop`".to_owned(),
        ))
    }

    fn event(&mut self, wire: Wire) -> Vec<Result<Event, Error>> {
        if !self.started
            && !matches!(
                wire,
                Wire::MessageStart { .. } | Wire::Ping | Wire::Error { .. } | Wire::Other
            )
        {
            return vec![Err(protocol(
                "the upstream sent content before `message_start`".to_owned(),
            ))];
        }
        match wire {
            Wire::MessageStart { message } => {
                self.started = true;
                if let Some(u) = message.usage {
                    self.take_usage(u);
                }
                vec![Ok(Event::MessageStart {
                    id: self.message_id.clone(),
                    model: self.model.clone(),
                    input_tokens: self.usage.input_tokens,
                })]
            }
            Wire::ContentBlockStart {
                index,
                content_block,
            } => self.block_start(index, &content_block),
            Wire::ContentBlockDelta { index, delta } => match self.blocks.get(&index) {
                Some(&i) => delta_event(i, &delta).map(Ok).into_iter().collect(),
                None => vec![],
            },
            Wire::ContentBlockStop { index } => match self.blocks.remove(&index) {
                Some(i) => vec![Ok(Event::BlockStop { index: i })],
                None => vec![],
            },
            Wire::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    self.take_usage(u);
                }
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(stop_reason(&reason));
                }
                vec![]
            }
            Wire::MessageStop => {
                self.finished = true;
                vec![Ok(Event::MessageEnd {
                    stop_reason: self.stop_reason.unwrap_or(StopReason::EndTurn),
                    usage: self.usage,
                })]
            }
            Wire::Ping => vec![Ok(Event::Ping)],
            Wire::Error { error } => vec![Err(error_from_event(&error))],
            Wire::Other => vec![],
        }
    }

    fn block_start(&mut self, index: usize, block: &Value) -> Vec<Result<Event, Error>> {
        let field = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or_default();
        let (start, initial) = match field("type") {
            "text" => (
                BlockStart::Text,
                Some(BlockDelta::Text(field("text").to_owned())),
            ),
            "thinking" => (
                BlockStart::Thinking,
                Some(BlockDelta::Thinking(field("thinking").to_owned())),
            ),
            "redacted_thinking" => (
                BlockStart::RedactedThinking {
                    data: field("data").to_owned(),
                },
                None,
            ),
            "tool_use" => (
                BlockStart::ToolUse {
                    id: field("id").to_owned(),
                    name: field("name").to_owned(),
                },
                None,
            ),
            _ => return vec![],
        };
        let i = self.next_index;
        self.next_index += 1;
        self.blocks.insert(index, i);
        let mut out = vec![Ok(Event::BlockStart {
            index: i,
            block: start,
        })];
        if let Some(delta) = initial
            .filter(|d| !matches!(d, BlockDelta::Text(s) | BlockDelta::Thinking(s) if s.is_empty()))
        {
            out.push(Ok(Event::BlockDelta { index: i, delta }));
        }
        out
    }

    fn take_usage(&mut self, u: WireUsage) {
        u.apply(&mut self.usage);
    }
}

fn delta_event(index: usize, delta: &Value) -> Option<Event> {
    let field = |k: &str| delta.get(k).and_then(Value::as_str).map(str::to_owned);
    let delta = match delta.get("type").and_then(Value::as_str)? {
        "text_delta" => BlockDelta::Text(field("text")?),
        "thinking_delta" => BlockDelta::Thinking(field("thinking")?),
        "signature_delta" => BlockDelta::ThinkingSignature(field("signature")?),
        "input_json_delta" => BlockDelta::InputJson(field("partial_json")?),
        _ => return None,
    };
    Some(Event::BlockDelta { index, delta })
}

/// Anthropic's stop reasons; those the canonical stream has no name for (`refusal`,
/// `pause_turn`, `model_context_window_exceeded`) end the turn normally.
fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "tool_use" => StopReason::ToolUse,
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        _ => StopReason::EndTurn,
    }
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

/// The canonical stream of an upstream's raw Messages events: each decoded as it comes, ending
/// at the first error, at `message_stop`, or with the decoder's verdict on a stream cut short.
pub fn canonical_stream(
    raw: conduit_core::RawEventStream,
    decoder: EventDecoder,
) -> conduit_core::EventStream {
    use futures::StreamExt;
    struct State {
        raw: conduit_core::RawEventStream,
        decoder: EventDecoder,
        ready: std::collections::VecDeque<Result<Event, Error>>,
        stop: bool,
    }
    let state = State {
        raw,
        decoder,
        ready: std::collections::VecDeque::new(),
        stop: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                if item.is_err() {
                    s.ready.clear();
                    s.stop = true;
                }
                return Some((item, s));
            }
            if s.stop {
                return None;
            }
            match s.raw.next().await {
                Some(Ok(ev)) => {
                    s.ready.extend(s.decoder.feed(&ev.name, &ev.data));
                    s.stop = s.decoder.finished();
                }
                Some(Err(e)) => {
                    s.stop = true;
                    return Some((Err(e), s));
                }
                None => {
                    s.stop = true;
                    return s.decoder.finish().map(|e| (Err(e), s));
                }
            }
        }
    }))
}
