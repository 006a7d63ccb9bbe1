//! Canonical events → Responses SSE lifecycle events (`event: <type>` + JSON with `type` and
//! `sequence_number`), storing the conversation when the response completes.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use conduit_core::{Block, BlockDelta, BlockStart, Error, Event};
use serde_json::Value;

use super::encode::{
    item_id, message_item, output_text, reasoning_item, remember, response_object, summary_text,
    usage, Status,
};
use super::store::ResponseStore;
use super::wire::{EventBody, OutputItem, StreamEvent};
use super::Context;
use crate::common;

/// The output item being streamed.
struct Open {
    block_index: usize,
    output_index: usize,
    item_id: String,
    kind: OpenKind,
}

enum OpenKind {
    Text(String),
    Thinking(String, Option<String>),
    Tool {
        call_id: String,
        name: String,
        json: String,
    },
}

/// Renders canonical events as Responses SSE, one call per event.
///
/// Order: `response.created`, `response.in_progress`; per output item
/// `response.output_item.added`, its part/delta/done events, `response.output_item.done`;
/// finally `response.completed` (status `completed`, or `incomplete` for the output limit) or,
/// after an error, `response.failed`. Nothing is written after either. Open items are closed
/// before the next one starts or the response ends, even if the event stream omits `BlockStop`.
pub struct ResponsesSseEncoder {
    ctx: Context,
    store: Arc<ResponseStore>,
    seq: u64,
    model: String,
    input_tokens: u32,
    started: bool,
    open: Option<Open>,
    /// Finished output items, in order.
    output: Vec<OutputItem>,
    /// The same output as canonical blocks, for the store.
    blocks: Vec<Block>,
    /// All thinking text, for the reasoning-token estimate.
    thinking: String,
    finished: bool,
}

impl ResponsesSseEncoder {
    pub fn new(ctx: Context, store: Arc<ResponseStore>) -> Self {
        Self {
            model: ctx.model.clone(),
            ctx,
            store,
            seq: 0,
            input_tokens: 0,
            started: false,
            open: None,
            output: Vec::new(),
            blocks: Vec::new(),
            thinking: String::new(),
            finished: false,
        }
    }

    /// The SSE bytes for one event (possibly several SSE events, possibly none).
    pub fn encode(&mut self, ev: &Event) -> Bytes {
        let mut out = BytesMut::new();
        if self.finished {
            return out.freeze();
        }
        match ev {
            Event::MessageStart {
                model,
                input_tokens,
                ..
            } => {
                if !model.is_empty() {
                    self.model = model.clone();
                }
                self.input_tokens = *input_tokens;
                self.start(&mut out);
            }
            Event::BlockStart { index, block } => {
                self.start(&mut out);
                self.close(&mut out);
                self.open_item(&mut out, *index, block);
            }
            Event::BlockDelta { index, delta } => self.delta(&mut out, *index, delta),
            Event::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|o| o.block_index == *index) {
                    self.close(&mut out);
                }
            }
            Event::MessageEnd {
                stop_reason,
                usage: u,
            } => {
                self.start(&mut out);
                self.close(&mut out);
                let usage = usage(u, self.input_tokens, &self.thinking);
                let output = std::mem::take(&mut self.output);
                let response = response_object(
                    &self.ctx,
                    &self.model,
                    Status::Done(*stop_reason, usage),
                    output,
                );
                self.emit(
                    &mut out,
                    "response.completed",
                    EventBody::Response {
                        response: Box::new(response),
                    },
                );
                remember(&self.ctx, &self.store, std::mem::take(&mut self.blocks));
                self.finished = true;
            }
            Event::Ping => out.put_slice(b": ping\n\n"),
        }
        out.freeze()
    }

    /// `response.failed` with `error {code, message}` and the output so far; ends the stream.
    /// A failed response is not stored.
    pub fn error(&mut self, e: &Error) -> Bytes {
        let mut out = BytesMut::new();
        if !self.finished {
            self.start(&mut out);
            let output = std::mem::take(&mut self.output);
            let response = response_object(&self.ctx, &self.model, Status::Failed(e), output);
            self.emit(
                &mut out,
                "response.failed",
                EventBody::Response {
                    response: Box::new(response),
                },
            );
            self.finished = true;
        }
        out.freeze()
    }

    /// The Responses API has no terminator after `response.completed`: always empty.
    pub fn done(&mut self) -> Bytes {
        self.finished = true;
        Bytes::new()
    }

    fn emit(&mut self, out: &mut BytesMut, kind: &str, body: EventBody) {
        let event = StreamEvent {
            kind,
            body,
            sequence_number: self.seq,
        };
        self.seq += 1;
        common::write_sse(out, Some(kind), &event);
    }

    fn start(&mut self, out: &mut BytesMut) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        for kind in ["response.created", "response.in_progress"] {
            let response = response_object(&self.ctx, &self.model, Status::InProgress, vec![]);
            self.emit(
                out,
                kind,
                EventBody::Response {
                    response: Box::new(response),
                },
            );
        }
    }

    fn open_item(&mut self, out: &mut BytesMut, block_index: usize, block: &BlockStart) {
        let output_index = self.output.len();
        let (kind, item) = match block {
            BlockStart::Text => {
                let id = item_id(&self.ctx, "msg", output_index);
                let item = message_item(id, "in_progress", String::new());
                (OpenKind::Text(String::new()), item)
            }
            BlockStart::Thinking => {
                let id = item_id(&self.ctx, "rs", output_index);
                (
                    OpenKind::Thinking(String::new(), None),
                    reasoning_item(id, None),
                )
            }
            // Nothing to show (a Responses reasoning item has no redacted form we could fill
            // honestly), but the conversation keeps it for `previous_response_id`.
            BlockStart::RedactedThinking { data } => {
                self.blocks
                    .push(Block::RedactedThinking { data: data.clone() });
                return;
            }
            BlockStart::ToolUse { id, name } => {
                let item = OutputItem::FunctionCall {
                    id: item_id(&self.ctx, "fc", output_index),
                    status: "in_progress",
                    arguments: String::new(),
                    call_id: id.clone(),
                    name: name.clone(),
                };
                let kind = OpenKind::Tool {
                    call_id: id.clone(),
                    name: name.clone(),
                    json: String::new(),
                };
                (kind, item)
            }
        };
        let item_id = item_id_of(&item);
        self.emit(
            out,
            "response.output_item.added",
            EventBody::Item { output_index, item },
        );
        match &kind {
            OpenKind::Text(_) => self.emit(
                out,
                "response.content_part.added",
                EventBody::ContentPart {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    part: output_text(String::new()),
                },
            ),
            OpenKind::Thinking(..) => self.emit(
                out,
                "response.reasoning_summary_part.added",
                EventBody::SummaryPart {
                    item_id: item_id.clone(),
                    output_index,
                    summary_index: 0,
                    part: summary_text(String::new()),
                },
            ),
            OpenKind::Tool { .. } => {}
        }
        self.open = Some(Open {
            block_index,
            output_index,
            item_id,
            kind,
        });
    }

    fn delta(&mut self, out: &mut BytesMut, index: usize, delta: &BlockDelta) {
        let Some(open) = self.open.as_mut().filter(|o| o.block_index == index) else {
            return;
        };
        let (item_id, output_index) = (open.item_id.clone(), open.output_index);
        let (kind, body) = match (&mut open.kind, delta) {
            (OpenKind::Text(buf), BlockDelta::Text(t)) => {
                buf.push_str(t);
                let body = EventBody::TextDelta {
                    item_id,
                    output_index,
                    content_index: 0,
                    delta: t.clone(),
                    logprobs: vec![],
                };
                ("response.output_text.delta", body)
            }
            (OpenKind::Thinking(buf, _), BlockDelta::Thinking(t)) => {
                buf.push_str(t);
                let body = EventBody::SummaryDelta {
                    item_id,
                    output_index,
                    summary_index: 0,
                    delta: t.clone(),
                };
                ("response.reasoning_summary_text.delta", body)
            }
            (OpenKind::Thinking(_, sig), BlockDelta::ThinkingSignature(s)) => {
                *sig = Some(s.clone());
                return;
            }
            (OpenKind::Tool { json, .. }, BlockDelta::InputJson(j)) => {
                json.push_str(j);
                let body = EventBody::ArgumentsDelta {
                    item_id,
                    output_index,
                    delta: j.clone(),
                };
                ("response.function_call_arguments.delta", body)
            }
            _ => return,
        };
        self.emit(out, kind, body);
    }

    /// Finish the open item: its done events, `response.output_item.done`, and its block.
    fn close(&mut self, out: &mut BytesMut) {
        let Some(Open {
            output_index,
            item_id,
            kind,
            ..
        }) = self.open.take()
        else {
            return;
        };
        let (item, block) = match kind {
            OpenKind::Text(text) => {
                let done = EventBody::TextDone {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    text: text.clone(),
                    logprobs: vec![],
                };
                self.emit(out, "response.output_text.done", done);
                let part = EventBody::ContentPart {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    part: output_text(text.clone()),
                };
                self.emit(out, "response.content_part.done", part);
                let item = message_item(item_id, "completed", text.clone());
                (item, Block::Text(text))
            }
            OpenKind::Thinking(text, signature) => {
                let done = EventBody::SummaryDone {
                    item_id: item_id.clone(),
                    output_index,
                    summary_index: 0,
                    text: text.clone(),
                };
                self.emit(out, "response.reasoning_summary_text.done", done);
                let part = EventBody::SummaryPart {
                    item_id: item_id.clone(),
                    output_index,
                    summary_index: 0,
                    part: summary_text(text.clone()),
                };
                self.emit(out, "response.reasoning_summary_part.done", part);
                self.thinking.push_str(&text);
                let item = reasoning_item(item_id, Some(text.clone()));
                (item, Block::Thinking { text, signature })
            }
            OpenKind::Tool {
                call_id,
                name,
                json,
            } => {
                // The upstream guarantees complete input (a cut call is an error instead); an
                // empty input is a call without arguments.
                let arguments = if json.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    json
                };
                let done = EventBody::ArgumentsDone {
                    item_id: item_id.clone(),
                    output_index,
                    arguments: arguments.clone(),
                };
                self.emit(out, "response.function_call_arguments.done", done);
                let input = serde_json::from_str(&arguments)
                    .unwrap_or_else(|_| Value::Object(Default::default()));
                let block = Block::ToolUse {
                    id: call_id.clone(),
                    name: name.clone(),
                    input,
                };
                let item = OutputItem::FunctionCall {
                    id: item_id,
                    status: "completed",
                    arguments,
                    call_id,
                    name,
                };
                (item, block)
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            EventBody::Item {
                output_index,
                item: item.clone(),
            },
        );
        self.output.push(item);
        self.blocks.push(block);
    }
}

fn item_id_of(item: &OutputItem) -> String {
    match item {
        OutputItem::Message { id, .. }
        | OutputItem::Reasoning { id, .. }
        | OutputItem::FunctionCall { id, .. } => id.clone(),
    }
}
