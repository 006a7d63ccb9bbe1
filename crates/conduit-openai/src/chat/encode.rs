//! Canonical events and responses → Chat Completions wire bytes (`chat.completion.chunk` SSE
//! and the `chat.completion` JSON body).

use bytes::{BufMut, Bytes, BytesMut};
use conduit_core::{Block, BlockDelta, BlockStart, Error, Event, Response, StopReason, Usage};

use super::wire::{
    self, ChunkChoice, Completion, Delta, FunctionDelta, ResponseFunction, ResponseMessage,
    ResponseToolCall, ToolCallDelta,
};
use crate::common::{self, ErrorEnvelope};

/// OpenAI's `finish_reason` for a canonical stop reason.
pub fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::ToolUse => "tool_calls",
        StopReason::MaxTokens => "length",
    }
}

/// OpenAI usage: `prompt_tokens` counts cached tokens too (Anthropic-style `input_tokens` does
/// not), and `cached_tokens` reports the cache reads.
pub fn usage(u: &Usage, fallback_input: u32) -> wire::Usage {
    let input = if u.input_tokens == 0 {
        fallback_input
    } else {
        u.input_tokens
    };
    let prompt = input + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    wire::Usage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: prompt + u.output_tokens,
        prompt_tokens_details: wire::PromptTokensDetails {
            cached_tokens: u.cache_read_input_tokens,
        },
    }
}

/// The completion id for a canonical message id.
fn completion_id(message_id: &str) -> String {
    format!("chatcmpl-{message_id}")
}

/// The non-streaming `chat.completion` body. Text blocks are joined into `content`, thinking
/// into `reasoning_content`.
pub fn response_body(r: &Response) -> Vec<u8> {
    response_body_at(r, common::unix_now())
}

pub(crate) fn response_body_at(r: &Response, created: u64) -> Vec<u8> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in &r.content {
        match block {
            Block::Text(t) => text.push_str(t),
            Block::Thinking { text: t, .. } => reasoning.push_str(t),
            Block::ToolUse { id, name, input } => tool_calls.push(ResponseToolCall {
                id: id.clone(),
                kind: "function",
                function: ResponseFunction {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            Block::Image(_) | Block::ToolResult { .. } | Block::RedactedThinking { .. } => {}
        }
    }
    let message = ResponseMessage {
        role: "assistant",
        content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
        reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        tool_calls,
        refusal: None,
    };
    common::to_json(&Completion {
        id: completion_id(&r.id),
        object: "chat.completion",
        created,
        model: r.model.clone(),
        choices: vec![wire::Choice {
            index: 0,
            message,
            logprobs: None,
            finish_reason: finish_reason(r.stop_reason),
        }],
        usage: Some(usage(&r.usage, 0)),
    })
}

/// Renders canonical events as `chat.completion.chunk` SSE, one call per event.
///
/// The first chunk carries `delta.role`; text goes to `delta.content`, thinking to
/// `delta.reasoning_content` (as DeepSeek and OpenRouter clients expect; signatures are
/// dropped), each tool call gets the next `index` in `delta.tool_calls`. The end is a chunk with
/// `finish_reason`, then (with `include_usage`) a chunk with empty `choices` and `usage`.
/// Nothing is written after the end or an error; [`ChatSseEncoder::done`] writes `[DONE]` once.
#[derive(Debug)]
pub struct ChatSseEncoder {
    include_usage: bool,
    created: u64,
    id: String,
    model: String,
    input_tokens: u32,
    started: bool,
    /// Canonical block index → tool call index of the open tool-use block.
    open_tool: Option<(usize, usize)>,
    tool_calls: usize,
    finished: bool,
    done: bool,
}

impl ChatSseEncoder {
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            created: common::unix_now(),
            id: completion_id("unknown"),
            model: String::new(),
            input_tokens: 0,
            started: false,
            open_tool: None,
            tool_calls: 0,
            finished: false,
            done: false,
        }
    }

    /// Fix `created` (seconds since the epoch) instead of the clock, for reproducible output.
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    /// The SSE bytes for one event (possibly none).
    pub fn encode(&mut self, ev: &Event) -> Bytes {
        let mut out = BytesMut::new();
        if self.finished {
            return out.freeze();
        }
        match ev {
            Event::MessageStart {
                id,
                model,
                input_tokens,
            } => {
                self.id = completion_id(id);
                self.model = model.clone();
                self.input_tokens = *input_tokens;
                self.start(&mut out);
            }
            Event::BlockStart { index, block } => {
                self.start(&mut out);
                self.open_tool = None;
                if let BlockStart::ToolUse { id, name } = block {
                    let call = self.tool_calls;
                    self.tool_calls += 1;
                    self.open_tool = Some((*index, call));
                    let delta = ToolCallDelta {
                        index: call,
                        id: Some(id.clone()),
                        kind: Some("function"),
                        function: FunctionDelta {
                            name: Some(name.clone()),
                            arguments: String::new(),
                        },
                    };
                    self.chunk(&mut out, tool_delta(delta), None);
                }
            }
            Event::BlockDelta { index, delta } => {
                self.start(&mut out);
                let delta = match delta {
                    BlockDelta::Text(t) => Delta {
                        content: Some(t.clone()),
                        ..Delta::default()
                    },
                    BlockDelta::Thinking(t) => Delta {
                        reasoning_content: Some(t.clone()),
                        ..Delta::default()
                    },
                    BlockDelta::ThinkingSignature(_) => return out.freeze(),
                    BlockDelta::InputJson(json) => match self.open_tool {
                        Some((block, call)) if block == *index => tool_delta(ToolCallDelta {
                            index: call,
                            id: None,
                            kind: None,
                            function: FunctionDelta {
                                name: None,
                                arguments: json.clone(),
                            },
                        }),
                        _ => return out.freeze(),
                    },
                };
                self.chunk(&mut out, delta, None);
            }
            Event::BlockStop { .. } => self.open_tool = None,
            Event::MessageEnd { stop_reason, usage } => {
                self.start(&mut out);
                self.chunk(
                    &mut out,
                    Delta::default(),
                    Some(finish_reason(*stop_reason)),
                );
                if self.include_usage {
                    let chunk = Completion::<ChunkChoice> {
                        id: self.id.clone(),
                        object: "chat.completion.chunk",
                        created: self.created,
                        model: self.model.clone(),
                        choices: vec![],
                        usage: Some(self::usage(usage, self.input_tokens)),
                    };
                    common::write_sse(&mut out, None, &chunk);
                }
                self.finished = true;
            }
            Event::Ping => out.put_slice(b": ping\n\n"),
        }
        out.freeze()
    }

    /// An OpenAI error object as an SSE data line (`data: {"error":{...}}`), which the OpenAI
    /// SDKs raise as an API error; it ends the stream.
    pub fn error(&mut self, e: &Error) -> Bytes {
        let mut out = BytesMut::new();
        if !self.finished {
            common::write_sse(&mut out, None, &ErrorEnvelope::new(e));
            self.finished = true;
        }
        out.freeze()
    }

    /// `data: [DONE]\n\n`, once.
    pub fn done(&mut self) -> Bytes {
        if std::mem::replace(&mut self.done, true) {
            return Bytes::new();
        }
        self.finished = true;
        Bytes::from_static(b"data: [DONE]\n\n")
    }

    /// The first chunk (`delta.role`), if not yet written.
    fn start(&mut self, out: &mut BytesMut) {
        if !std::mem::replace(&mut self.started, true) {
            let delta = Delta {
                role: Some("assistant"),
                content: Some(String::new()),
                ..Delta::default()
            };
            self.chunk(out, delta, None);
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: Delta, finish_reason: Option<&'static str>) {
        let chunk = Completion {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        };
        common::write_sse(out, None, &chunk);
    }
}

fn tool_delta(call: ToolCallDelta) -> Delta {
    Delta {
        tool_calls: vec![call],
        ..Delta::default()
    }
}
