//! Canonical events, responses and errors → Anthropic Messages wire bytes (SSE and JSON).

use bytes::{BufMut, Bytes, BytesMut};
use conduit_core::{
    Block, BlockDelta, BlockStart, Error, ErrorKind, Event, ModelInfo, Response, Usage,
};
use serde::Serialize;

use crate::wire::{
    self, ContentBlock, CountTokensResponse, Delta, ErrorDetail, ErrorResponse, MessageDelta,
    MessagesResponse, RedactedThinkingBlock, StreamEvent, TextBlock, ThinkingBlock, ToolUseBlock,
};

/// `created_at` for every listed model: upstreams do not tell us release dates, and clients
/// only display it.
const MODEL_CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// The HTTP status and Anthropic error `type` for an error kind.
pub fn error_status(kind: &ErrorKind) -> (u16, &'static str) {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::ContextOverflow { .. } => {
            (400, "invalid_request_error")
        }
        ErrorKind::Authentication => (401, "authentication_error"),
        // The gateway's own Kiro credentials are missing, dead or refused (suspended account):
        // not the client's key. A 401 makes Claude Code take its key for stale and retry for
        // over a minute in silence; a 403 shows the message ("run `conduit login`") at once.
        ErrorKind::PermissionDenied | ErrorKind::Credentials => (403, "permission_error"),
        ErrorKind::NotFound => (404, "not_found_error"),
        ErrorKind::RequestTooLarge => (413, "request_too_large"),
        ErrorKind::RateLimited => (429, "rate_limit_error"),
        ErrorKind::Overloaded => (529, "overloaded_error"),
        ErrorKind::Timeout => (504, "timeout_error"),
        ErrorKind::UpstreamProtocol | ErrorKind::IncompleteTurn => (502, "api_error"),
        ErrorKind::Internal => (500, "api_error"),
        ErrorKind::Unavailable => (503, "api_error"),
        ErrorKind::BudgetExceeded => (429, "billing_error"),
    }
}

fn error_detail(e: &Error) -> ErrorDetail {
    ErrorDetail {
        kind: error_status(&e.kind).1,
        message: e.message.clone(),
    }
}

/// Status and body of an error response.
pub fn error_body(e: &Error) -> (u16, Vec<u8>) {
    let body = ErrorResponse {
        kind: "error",
        error: error_detail(e),
    };
    (error_status(&e.kind).0, to_json(&body))
}

/// Serialize a type of ours. Our wire types have string keys and no fallible `Serialize`
/// impls, so this cannot fail in practice; should it, the client still gets valid JSON.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        let fallback = ErrorResponse {
            kind: "error",
            error: ErrorDetail {
                kind: "api_error",
                message: format!("the gateway could not serialize its response ({e})"),
            },
        };
        serde_json::to_vec(&fallback).unwrap_or_default()
    })
}

fn wire_usage(u: &Usage) -> wire::Usage {
    wire::Usage {
        input_tokens: u.input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_creation: u.cache_creation,
        output_tokens: u.output_tokens,
    }
}

/// The non-streaming `/v1/messages` response body.
pub fn response_body(r: &Response) -> Vec<u8> {
    let content = r.content.iter().filter_map(response_block).collect();
    to_json(&MessagesResponse {
        id: r.id.clone(),
        kind: "message",
        role: wire::Role::Assistant,
        model: r.model.clone(),
        content,
        stop_reason: Some(r.stop_reason.as_str()),
        stop_sequence: None,
        usage: wire_usage(&r.usage),
    })
}

/// Blocks an assistant message can hold; request-only blocks (images, tool results) are
/// never produced by an upstream and are skipped.
fn response_block(b: &Block) -> Option<ContentBlock> {
    Some(match b {
        Block::Text(text) => ContentBlock::Text(TextBlock { text: text.clone() }),
        Block::Thinking { text, signature } => ContentBlock::Thinking(ThinkingBlock {
            thinking: text.clone(),
            signature: signature.clone().unwrap_or_default(),
        }),
        Block::RedactedThinking { data } => {
            ContentBlock::RedactedThinking(RedactedThinkingBlock { data: data.clone() })
        }
        Block::ToolUse { id, name, input } => ContentBlock::ToolUse(ToolUseBlock {
            id: id.clone(),
            name: name.clone(),
            input: input.clone(),
        }),
        Block::Image(_) | Block::ToolResult { .. } => return None,
    })
}

/// `{"input_tokens": N}`.
pub fn count_tokens_body(input_tokens: u32) -> Vec<u8> {
    to_json(&CountTokensResponse { input_tokens })
}

/// Anthropic's `/v1/models` list, with context window and output limit as extra fields.
pub fn models_body(models: &[ModelInfo]) -> Vec<u8> {
    let data: Vec<wire::Model> = models
        .iter()
        .map(|m| wire::Model {
            kind: "model",
            id: m.id.clone(),
            display_name: m.display_name.clone(),
            created_at: MODEL_CREATED_AT,
            context_window: m.context_window,
            max_output_tokens: m.max_output_tokens,
        })
        .collect();
    to_json(&wire::ModelList {
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        data,
        has_more: false,
    })
}

/// Renders canonical events as Anthropic SSE, one call per event.
///
/// It keeps just enough state to hold Anthropic's order even if the event stream is sloppy: an
/// open block is closed before the next block starts or the message ends, `message_delta` and
/// `message_stop` always come together, and nothing is written after the message ended or an
/// error was sent.
#[derive(Debug, Default)]
pub struct SseEncoder {
    /// Input tokens from `message_start`, reported again in `message_delta` if the final usage
    /// lacks them.
    input_tokens: u32,
    open_block: Option<usize>,
    finished: bool,
}

impl SseEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The SSE bytes for one event (possibly several SSE events, possibly none).
    pub fn encode(&mut self, ev: &Event) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_into(ev, &mut out);
        out.freeze()
    }

    /// [`SseEncoder::encode`], appended to `out` (the relay's batch: no buffer of its own).
    pub fn encode_into(&mut self, ev: &Event, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        let out = &mut *out;
        match ev {
            Event::MessageStart {
                id,
                model,
                input_tokens,
            } => {
                self.input_tokens = *input_tokens;
                let message = MessagesResponse {
                    id: id.clone(),
                    kind: "message",
                    role: wire::Role::Assistant,
                    model: model.clone(),
                    content: vec![],
                    stop_reason: None,
                    stop_sequence: None,
                    usage: wire::Usage {
                        input_tokens: *input_tokens,
                        cache_creation_input_tokens: 0,
                        cache_read_input_tokens: 0,
                        cache_creation: None,
                        output_tokens: 1,
                    },
                };
                write_event(out, &StreamEvent::MessageStart { message });
            }
            Event::BlockStart { index, block } => {
                self.close_block(out);
                self.open_block = Some(*index);
                let content_block = match block {
                    BlockStart::Text => ContentBlock::Text(TextBlock {
                        text: String::new(),
                    }),
                    BlockStart::Thinking => ContentBlock::Thinking(ThinkingBlock {
                        thinking: String::new(),
                        signature: String::new(),
                    }),
                    BlockStart::RedactedThinking { data } => {
                        ContentBlock::RedactedThinking(RedactedThinkingBlock { data: data.clone() })
                    }
                    BlockStart::ToolUse { id, name } => ContentBlock::ToolUse(ToolUseBlock {
                        id: id.clone(),
                        name: name.clone(),
                        input: serde_json::Value::Object(Default::default()),
                    }),
                };
                let start = StreamEvent::ContentBlockStart {
                    index: *index,
                    content_block,
                };
                write_event(out, &start);
            }
            Event::BlockDelta { index, delta } => {
                let delta = match delta {
                    BlockDelta::Text(text) => Delta::TextDelta { text },
                    BlockDelta::Thinking(thinking) => Delta::ThinkingDelta { thinking },
                    BlockDelta::ThinkingSignature(signature) => Delta::SignatureDelta { signature },
                    BlockDelta::InputJson(partial_json) => Delta::InputJsonDelta { partial_json },
                };
                let ev = StreamEvent::ContentBlockDelta {
                    index: *index,
                    delta,
                };
                write_event(out, &ev);
            }
            Event::BlockStop { index } => {
                if self.open_block == Some(*index) {
                    self.close_block(out);
                }
            }
            Event::MessageEnd { stop_reason, usage } => {
                self.close_block(out);
                let mut usage = wire_usage(usage);
                if usage.input_tokens == 0 {
                    usage.input_tokens = self.input_tokens;
                }
                let delta = MessageDelta {
                    stop_reason: stop_reason.as_str(),
                    stop_sequence: None,
                };
                write_event(out, &StreamEvent::MessageDelta { delta, usage });
                write_event(out, &StreamEvent::MessageStop);
                self.finished = true;
            }
            Event::Ping => write_event(out, &StreamEvent::Ping),
        }
    }

    /// An `event: error` that ends the stream; later calls write nothing.
    pub fn error(&mut self, e: &Error) -> Bytes {
        let mut out = BytesMut::new();
        if !self.finished {
            let ev = StreamEvent::Error {
                error: error_detail(e),
            };
            write_event(&mut out, &ev);
            self.finished = true;
        }
        out.freeze()
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        if let Some(index) = self.open_block.take() {
            write_event(out, &StreamEvent::ContentBlockStop { index });
        }
    }
}

/// `event: <name>\ndata: <json>\n\n`, the JSON serialised straight into `out`.
fn write_event(out: &mut BytesMut, ev: &StreamEvent) {
    out.put_slice(b"event: ");
    out.put_slice(ev.name().as_bytes());
    out.put_slice(b"\ndata: ");
    let start = out.len();
    if serde_json::to_writer((&mut *out).writer(), ev).is_err() {
        // Cannot happen with our types; the client still gets valid JSON.
        out.truncate(start);
        out.put_slice(&to_json(&ErrorResponse {
            kind: "error",
            error: ErrorDetail {
                kind: "api_error",
                message: "the gateway could not serialize an event".into(),
            },
        }));
    }
    out.put_slice(b"\n\n");
}
