//! Kiro events → canonical events: text and `<thinking>` blocks, tool calls assembled by
//! `toolUseId`, stop reason, usage, and upstream exceptions mapped to the error model.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use bytes::Bytes;
use conduit_core::{
    BlockDelta, BlockStart, Error, ErrorKind, Event, EventStream, StopReason, Usage,
};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::eventstream::FrameDecoder;
use crate::thinking::{Piece, ThinkingParser};
use crate::wire::{KiroEvent, TokenUsage};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssembleOptions {
    pub message_id: String,
    /// The model name to report (what the client asked for).
    pub model: String,
    /// The input-token estimate made before sending; usage never reports less.
    pub input_tokens: u32,
    pub context_window: u32,
    /// Parse a leading `<thinking>` block into a thinking block.
    pub thinking: bool,
    /// Kiro tool name → client tool name, for names the conversion shortened
    /// ([`crate::convert::tool_name_map`]).
    pub tool_names: HashMap<String, String>,
}

#[derive(Debug)]
enum Open {
    None,
    Text,
    Thinking {
        hasher: Sha256,
    },
    Tool {
        id: String,
        name: String,
        input: String,
    },
}

/// Turns one response's Kiro events into canonical events. Feed it with [`Assembler::push`],
/// end with [`Assembler::finish`]; after an `Err` it must not be used again.
#[derive(Debug)]
pub struct Assembler {
    opts: AssembleOptions,
    parser: ThinkingParser,
    open: Open,
    /// Index of the open block (valid while `open` is not `None`).
    index: usize,
    next_index: usize,
    finished_tools: HashSet<String>,
    last_content: Option<String>,
    emitted: String,
    saw_tool: bool,
    max_tokens: bool,
    saw_trailer: bool,
    context_percentage: Option<f64>,
    token_usage: Option<TokenUsage>,
}

fn protocol(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

impl Assembler {
    pub fn new(opts: AssembleOptions) -> Self {
        Self {
            parser: ThinkingParser::new(opts.thinking),
            opts,
            open: Open::None,
            index: 0,
            next_index: 0,
            finished_tools: HashSet::new(),
            last_content: None,
            emitted: String::new(),
            saw_tool: false,
            max_tokens: false,
            saw_trailer: false,
            context_percentage: None,
            token_usage: None,
        }
    }

    pub fn start(&mut self) -> Vec<Event> {
        vec![Event::MessageStart {
            id: self.opts.message_id.clone(),
            model: self.opts.model.clone(),
            input_tokens: self.opts.input_tokens,
        }]
    }

    pub fn push(&mut self, event: KiroEvent) -> Result<Vec<Event>, Error> {
        let mut out = Vec::new();
        if !matches!(event, KiroEvent::AssistantResponse { .. }) {
            self.last_content = None;
        }
        match event {
            KiroEvent::AssistantResponse { content } => {
                // The upstream sometimes repeats a frame verbatim (spec §4.5). Short chunks
                // repeat legitimately ("}", "\n"), so only long ones count as duplicates.
                if content.len() >= MIN_DUPLICATE_LEN
                    && self.last_content.as_deref() == Some(content.as_str())
                {
                    return Ok(out);
                }
                self.last_content = Some(content.clone());
                if matches!(self.open, Open::Tool { .. }) {
                    self.close(&mut out)?;
                }
                let pieces = self.parser.push(&content);
                self.pieces(pieces, &mut out);
            }
            KiroEvent::ToolUse {
                tool_use_id,
                name,
                input,
                stop,
            } => self.tool_use(tool_use_id, name, input, stop, &mut out)?,
            KiroEvent::Metering { .. } => self.saw_trailer = true,
            KiroEvent::ContextUsage { percentage } => {
                self.saw_trailer = true;
                self.context_percentage = Some(percentage);
            }
            KiroEvent::MetadataTokenUsage(usage) => self.token_usage = Some(usage),
            KiroEvent::Exception { kind, message } => {
                if kind == "ContentLengthExceededException" {
                    self.max_tokens = true;
                } else {
                    return Err(self.exception(&kind, &message));
                }
            }
            KiroEvent::Other(_) => {}
        }
        Ok(out)
    }

    /// At upstream end of body: closes blocks and ends the message.
    pub fn finish(&mut self) -> Result<Vec<Event>, Error> {
        let mut out = Vec::new();
        if let Open::Tool { name, .. } = &self.open {
            if !self.saw_trailer {
                return Err(protocol(format!(
                    "the upstream stream ended in the middle of tool call `{}`: its input was \
                     truncated by the upstream (retry, or ask for smaller tool inputs)",
                    self.client_name(name)
                )));
            }
        }
        let pieces = self.parser.flush();
        self.pieces(pieces, &mut out);
        self.close(&mut out)?;
        let stop_reason = if self.saw_tool {
            StopReason::ToolUse
        } else if self.max_tokens {
            StopReason::MaxTokens
        } else {
            StopReason::EndTurn
        };
        out.push(Event::MessageEnd {
            stop_reason,
            usage: self.usage(),
        });
        Ok(out)
    }

    fn client_name(&self, kiro_name: &str) -> String {
        self.opts
            .tool_names
            .get(kiro_name)
            .cloned()
            .unwrap_or_else(|| kiro_name.to_string())
    }

    fn tool_use(
        &mut self,
        id: String,
        name: String,
        input: Option<String>,
        stop: bool,
        out: &mut Vec<Event>,
    ) -> Result<(), Error> {
        if self.finished_tools.contains(&id) {
            return Ok(()); // a repeated frame of a call already complete
        }
        let same = matches!(&self.open, Open::Tool { id: open, .. } if *open == id);
        if !same {
            let pieces = self.parser.flush();
            self.pieces(pieces, out);
            self.close(out)?;
            self.saw_tool = true;
            self.open_block(
                BlockStart::ToolUse {
                    id: id.clone(),
                    name: self.client_name(&name),
                },
                out,
            );
            self.open = Open::Tool {
                id,
                name,
                input: String::new(),
            };
        }
        if let (Some(fragment), Open::Tool { input: buf, .. }) = (input, &mut self.open) {
            if !fragment.is_empty() {
                buf.push_str(&fragment);
                self.emitted.push_str(&fragment);
                out.push(Event::BlockDelta {
                    index: self.index,
                    delta: BlockDelta::InputJson(fragment),
                });
            }
        }
        if stop {
            self.close(out)?;
        }
        Ok(())
    }

    fn pieces(&mut self, pieces: Vec<Piece>, out: &mut Vec<Event>) {
        for piece in pieces {
            match piece {
                Piece::Thinking(text) => {
                    if !matches!(self.open, Open::Thinking { .. }) {
                        self.close_quiet(out);
                        self.open_block(BlockStart::Thinking, out);
                        self.open = Open::Thinking {
                            hasher: Sha256::new(),
                        };
                    }
                    if let Open::Thinking { hasher } = &mut self.open {
                        hasher.update(text.as_bytes());
                    }
                    self.emitted.push_str(&text);
                    out.push(Event::BlockDelta {
                        index: self.index,
                        delta: BlockDelta::Thinking(text),
                    });
                }
                Piece::ThinkingEnd => self.close_quiet(out),
                Piece::Text(text) => {
                    if !matches!(self.open, Open::Text) {
                        self.close_quiet(out);
                        self.open_block(BlockStart::Text, out);
                        self.open = Open::Text;
                    }
                    self.emitted.push_str(&text);
                    out.push(Event::BlockDelta {
                        index: self.index,
                        delta: BlockDelta::Text(text),
                    });
                }
            }
        }
    }

    fn open_block(&mut self, block: BlockStart, out: &mut Vec<Event>) {
        self.index = self.next_index;
        self.next_index += 1;
        out.push(Event::BlockStart {
            index: self.index,
            block,
        });
    }

    /// Closes a text or thinking block (never fails; tool blocks are not open here).
    fn close_quiet(&mut self, out: &mut Vec<Event>) {
        if let Err(e) = self.close(out) {
            tracing::warn!(error = %e, "closing a block failed");
        }
    }

    /// Closes the open block; a tool call's input must be a complete JSON object.
    fn close(&mut self, out: &mut Vec<Event>) -> Result<(), Error> {
        match std::mem::replace(&mut self.open, Open::None) {
            Open::None => return Ok(()),
            Open::Text => {}
            Open::Thinking { hasher } => {
                let signature = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
                out.push(Event::BlockDelta {
                    index: self.index,
                    delta: BlockDelta::ThinkingSignature(signature),
                });
            }
            Open::Tool { id, name, input } => {
                if input.trim().is_empty() {
                    self.emitted.push_str("{}");
                    out.push(Event::BlockDelta {
                        index: self.index,
                        delta: BlockDelta::InputJson("{}".into()),
                    });
                } else if !matches!(
                    serde_json::from_str::<serde_json::Value>(&input),
                    Ok(serde_json::Value::Object(_))
                ) {
                    return Err(protocol(format!(
                        "the input of tool call `{}` ({id}) is not a complete JSON object: it \
                         was truncated by the upstream after {} bytes (retry, or ask for \
                         smaller tool inputs)",
                        self.client_name(&name),
                        input.len()
                    )));
                }
                self.finished_tools.insert(id);
            }
        }
        out.push(Event::BlockStop { index: self.index });
        Ok(())
    }

    fn exception(&self, kind: &str, message: &str) -> Error {
        let text = format!("Kiro reported {kind}: {message}");
        if kind.contains("Throttling") {
            return Error::new(ErrorKind::RateLimited, text);
        }
        if message.contains("CONTENT_LENGTH_EXCEEDS_THRESHOLD")
            || message.contains("Input is too long")
        {
            let max = u64::from(self.opts.context_window);
            let tokens = u64::from(self.opts.input_tokens).max(max + 1);
            return Error::context_overflow(tokens, max);
        }
        if kind.contains("InternalServer")
            || kind.contains("ServiceUnavailable")
            || message.contains("INSUFFICIENT_MODEL_CAPACITY")
            || message.contains("high load")
        {
            return Error::new(ErrorKind::Overloaded, text);
        }
        protocol(text)
    }

    fn usage(&self) -> Usage {
        let output = conduit_core::tokens::count_text(&self.emitted);
        let estimate = self.opts.input_tokens;
        if let Some(u) = &self.token_usage {
            return Usage {
                input_tokens: u.uncached_input_tokens.unwrap_or(estimate),
                output_tokens: u.output_tokens.unwrap_or(output),
                cache_read_input_tokens: u.cache_read_input_tokens.unwrap_or(0),
                cache_creation_input_tokens: u.cache_write_input_tokens.unwrap_or(0),
            };
        }
        let input = match self.context_percentage {
            Some(pct) if pct > 0.0 => {
                let total = pct / 100.0 * f64::from(self.opts.context_window);
                let derived = (total - f64::from(output)).max(0.0).round() as u32;
                derived.max(estimate)
            }
            _ => estimate,
        };
        Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        }
    }
}

/// The canonical event stream of one Kiro response body.
/// Repeated chunks shorter than this are real output, not an upstream duplicate.
const MIN_DUPLICATE_LEN: usize = 24;

pub fn events_from_body<S>(body: S, mut assembler: Assembler) -> EventStream
where
    S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
{
    Box::pin(async_stream::stream! {
        for e in assembler.start() {
            yield Ok(e);
        }
        let mut decoder = FrameDecoder::new();
        let mut body = Box::pin(body);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    yield Err(protocol(format!(
                        "the upstream stream was cut before the response was complete: {e}"
                    )));
                    return;
                }
            };
            let events = match decoder.push(&chunk) {
                Ok(events) => events,
                Err(e) => {
                    yield Err(e);
                    return;
                }
            };
            for event in events {
                match assembler.push(event) {
                    Ok(out) => {
                        for e in out {
                            yield Ok(e);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                }
            }
        }
        if let Err(e) = decoder.finish() {
            yield Err(e);
            return;
        }
        match assembler.finish() {
            Ok(out) => {
                for e in out {
                    yield Ok(e);
                }
            }
            Err(e) => yield Err(e),
        }
    })
}
