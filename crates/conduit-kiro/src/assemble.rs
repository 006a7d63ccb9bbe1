//! Kiro events → canonical events: text, `<thinking>` blocks and native reasoning
//! (`reasoningContentEvent`), tool calls assembled per `toolUseId` (and recovered from text),
//! stop reason, usage and credits, and upstream exceptions mapped to the error model.
//!
//! Choices:
//! - Native reasoning is shown as thinking blocks only when the client asked for thinking. When
//!   it did not, the reasoning is dropped from the answer (counted in the output estimate):
//!   ZKR writes it out as plain text instead, but a client that asked for no thinking expects
//!   none, and reasoning mixed into the answer text would be replayed to the model as its own
//!   words.
//! - The signature fragments of a reasoning block are joined and sent as one signature delta just
//!   before the block stops. Reasoning Kiro did not sign (and prompt-tag thinking) gets the
//!   gateway's placeholder signature, which history replay never forwards.
//! - Redacted reasoning becomes one `RedactedThinking` block carrying its data.
//! - After a tool result, thinking blocks are held back until text or a tool call arrives; a
//!   turn that ends with reasoning only is an [`ErrorKind::IncompleteTurn`] yielded before any
//!   block, so the upstream layer can retry it.

mod outcome;
mod tools;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use conduit_core::{BlockDelta, BlockStart, Error, ErrorKind, Event, EventStream, StopReason};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::eventstream::FrameDecoder;
use crate::reasoning::PlaceholderSigner;
use crate::textcalls::{Scanned, TextCallScanner};
use crate::thinking::{Piece, ThinkingParser};
use crate::wire::{KiroEvent, TokenUsage};
use tools::PendingTool;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssembleOptions {
    pub message_id: String,
    /// The model name to report (what the client asked for).
    pub model: String,
    /// The input-token estimate made before sending; usage never reports less.
    pub input_tokens: u32,
    pub context_window: u32,
    /// The client asked for thinking ([`crate::convert::thinking_requested`]): a leading
    /// `<thinking>` block and native reasoning become thinking blocks.
    pub thinking: bool,
    /// Kiro tool name → client tool name, for names the conversion shortened
    /// ([`crate::convert::tool_name_map`]).
    pub tool_names: HashMap<String, String>,
    /// Kiro tool name → input schema of the request's tools
    /// ([`crate::convert::text_call_tools`]); a tool call the model writes as text is recovered
    /// only for these.
    pub text_call_tools: HashMap<String, Value>,
    /// The request ends with tool results ([`crate::convert::ends_with_tool_result`]).
    pub after_tool_result: bool,
}

#[derive(Debug)]
enum Open {
    None,
    Text,
    /// Prompt-tag (`<thinking>`) reasoning.
    TagThinking(PlaceholderSigner),
    /// Native reasoning; `signature` joins the fragments seen so far.
    Reasoning {
        signer: PlaceholderSigner,
        signature: String,
    },
    /// Redacted reasoning, announced whole when it ends (its start event carries the data).
    Redacted(String),
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
    scanner: TextCallScanner,
    open: Open,
    /// Index of the open block (valid while `open` is not `None`).
    index: usize,
    next_index: usize,
    finished_tools: HashSet<String>,
    /// Calls whose frames arrived while another call was streaming, in arrival order.
    pending: Vec<PendingTool>,
    text_calls: usize,
    last_content: Option<String>,
    emitted: String,
    saw_tool: bool,
    max_tokens: bool,
    saw_trailer: bool,
    /// Thinking events held back until visible content (see the module docs).
    held: Vec<Event>,
    visible: bool,
    saw_reasoning: bool,
    context_percentage: Option<f64>,
    token_usage: Option<TokenUsage>,
    credits: Option<f64>,
}

fn protocol(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

impl Assembler {
    pub fn new(opts: AssembleOptions) -> Self {
        Self {
            parser: ThinkingParser::new(opts.thinking),
            scanner: TextCallScanner::new(opts.text_call_tools.clone()),
            opts,
            open: Open::None,
            index: 0,
            next_index: 0,
            finished_tools: HashSet::new(),
            pending: Vec::new(),
            text_calls: 0,
            last_content: None,
            emitted: String::new(),
            saw_tool: false,
            max_tokens: false,
            saw_trailer: false,
            held: Vec::new(),
            visible: false,
            saw_reasoning: false,
            context_percentage: None,
            token_usage: None,
            credits: None,
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
                if !self.pending.is_empty()
                    || matches!(
                        self.open,
                        Open::Tool { .. } | Open::Reasoning { .. } | Open::Redacted(_)
                    )
                {
                    self.close_all(&mut out)?;
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
            KiroEvent::Reasoning {
                text,
                signature,
                redacted_content,
            } => self.reasoning(text, signature, redacted_content, &mut out)?,
            KiroEvent::Metering { usage } => {
                self.saw_trailer = true;
                if usage.is_finite() && usage >= 0.0 {
                    self.credits = Some(self.credits.unwrap_or(0.0) + usage);
                }
            }
            KiroEvent::ContextUsage { percentage } => {
                self.saw_trailer = true;
                self.context_percentage = Some(percentage);
            }
            KiroEvent::MetadataTokenUsage(usage) => self.token_usage = Some(usage),
            KiroEvent::MetadataStopReason(reason) => {
                if matches!(
                    reason.to_ascii_lowercase().as_str(),
                    "max_tokens" | "length" | "max_output_tokens"
                ) {
                    self.max_tokens = true;
                }
            }
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
        if !self.saw_trailer {
            let open_tool = match &self.open {
                Open::Tool { name, .. } => Some(name.clone()),
                _ => None,
            };
            let unfinished = open_tool.or_else(|| {
                self.pending
                    .iter()
                    .find(|p| !p.stopped)
                    .map(|p| p.name.clone())
            });
            if let Some(name) = unfinished {
                return Err(protocol(format!(
                    "the upstream stream ended in the middle of tool call `{}`: its input was \
                     truncated by the upstream (retry, or ask for smaller tool inputs)",
                    self.client_name(&name)
                )));
            }
        }
        self.close_all(&mut out)?;
        // A turn cut by the output limit has a stop reason: it is not the reasoning-only turn
        // that a retry may fix.
        if self.opts.after_tool_result && self.saw_reasoning && !self.visible && !self.max_tokens {
            return Err(Error::new(
                ErrorKind::IncompleteTurn,
                "the upstream ended its turn after a tool result with reasoning only (no text, \
                 no tool call)",
            ));
        }
        out.append(&mut self.held);
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

    fn reasoning(
        &mut self,
        text: Option<String>,
        signature: Option<String>,
        redacted: Option<String>,
        out: &mut Vec<Event>,
    ) -> Result<(), Error> {
        let text = text.filter(|t| !t.is_empty());
        let signature = signature.filter(|s| !s.is_empty());
        let redacted = redacted.filter(|r| !r.is_empty());
        if text.is_none() && signature.is_none() && redacted.is_none() {
            return Ok(());
        }
        self.saw_reasoning = true;
        if let Some(t) = &text {
            self.emitted.push_str(t);
        }
        if !self.opts.thinking {
            return Ok(());
        }
        if let Some(data) = redacted {
            if !matches!(self.open, Open::Redacted(_)) {
                self.close_all(out)?;
                self.open = Open::Redacted(String::new());
            }
            if let Open::Redacted(buf) = &mut self.open {
                buf.push_str(&data);
            }
        }
        if let Some(text) = text {
            // Text after a signature starts the next reasoning block.
            let continues =
                matches!(&self.open, Open::Reasoning { signature, .. } if signature.is_empty());
            if !continues {
                self.close_all(out)?;
                self.open_block(BlockStart::Thinking, out);
                self.open = Open::Reasoning {
                    signer: PlaceholderSigner::new(),
                    signature: String::new(),
                };
            }
            if let Open::Reasoning { signer, .. } = &mut self.open {
                signer.update(&text);
            }
            self.emit(
                Event::BlockDelta {
                    index: self.index,
                    delta: BlockDelta::Thinking(text),
                },
                out,
            );
        }
        match (&mut self.open, signature) {
            (Open::Reasoning { signature, .. }, Some(fragment)) => signature.push_str(&fragment),
            (_, Some(_)) => tracing::debug!("dropped a reasoning signature without reasoning"),
            _ => {}
        }
        Ok(())
    }

    fn pieces(&mut self, pieces: Vec<Piece>, out: &mut Vec<Event>) {
        for piece in pieces {
            match piece {
                Piece::Thinking(text) => {
                    self.saw_reasoning = true;
                    if !matches!(self.open, Open::TagThinking(_)) {
                        self.close_quiet(out);
                        self.open_block(BlockStart::Thinking, out);
                        self.open = Open::TagThinking(PlaceholderSigner::new());
                    }
                    if let Open::TagThinking(signer) = &mut self.open {
                        signer.update(&text);
                    }
                    self.emitted.push_str(&text);
                    self.emit(
                        Event::BlockDelta {
                            index: self.index,
                            delta: BlockDelta::Thinking(text),
                        },
                        out,
                    );
                }
                Piece::ThinkingEnd => self.close_quiet(out),
                Piece::Text(text) => {
                    let scanned = self.scanner.push(&text);
                    self.scanned(scanned, out);
                }
            }
        }
    }

    fn scanned(&mut self, scanned: Vec<Scanned>, out: &mut Vec<Event>) {
        for s in scanned {
            match s {
                Scanned::Text(text) => {
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
                Scanned::Call { name, input } => self.text_call(name, input, out),
            }
        }
    }

    /// A tool call recovered from text: one whole tool block.
    fn text_call(&mut self, name: String, input: Value, out: &mut Vec<Event>) {
        self.close_quiet(out);
        self.text_calls += 1;
        let base = self.opts.message_id.trim_start_matches("msg_");
        let id = format!("tooluse_{base}_text{}", self.text_calls);
        self.saw_tool = true;
        let json = input.to_string();
        self.emitted.push_str(&json);
        self.open_block(
            BlockStart::ToolUse {
                id: id.clone(),
                name: self.client_name(&name),
            },
            out,
        );
        out.push(Event::BlockDelta {
            index: self.index,
            delta: BlockDelta::InputJson(json),
        });
        out.push(Event::BlockStop { index: self.index });
        self.finished_tools.insert(id);
    }

    /// Ends the text run: held-back text (a partial tag) is flushed through.
    fn flush_text(&mut self, out: &mut Vec<Event>) {
        let pieces = self.parser.flush();
        self.pieces(pieces, out);
        let scanned = self.scanner.flush();
        self.scanned(scanned, out);
    }

    /// Flushes the text run and closes whatever block is open, buffered tool calls included:
    /// the model has moved on, so they have all the input they will get.
    fn close_all(&mut self, out: &mut Vec<Event>) -> Result<(), Error> {
        self.flush_text(out);
        self.close(out)?;
        for p in &mut self.pending {
            p.stopped = true;
        }
        self.drain_pending(out)
    }

    fn open_block(&mut self, block: BlockStart, out: &mut Vec<Event>) {
        if !self.visible && matches!(block, BlockStart::Text | BlockStart::ToolUse { .. }) {
            self.visible = true;
            out.append(&mut self.held);
        }
        self.index = self.next_index;
        self.next_index += 1;
        self.emit(
            Event::BlockStart {
                index: self.index,
                block,
            },
            out,
        );
    }

    /// Sends a thinking block's event now, or holds it back (see the module docs).
    fn emit(&mut self, event: Event, out: &mut Vec<Event>) {
        if self.opts.after_tool_result && !self.visible {
            self.held.push(event);
        } else {
            out.push(event);
        }
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
            Open::TagThinking(signer) => self.signature(signer.finish(), out),
            Open::Reasoning { signer, signature } => {
                let signature = if signature.is_empty() {
                    signer.finish()
                } else {
                    signature
                };
                self.signature(signature, out);
            }
            Open::Redacted(data) => {
                self.open_block(BlockStart::RedactedThinking { data }, out);
            }
            Open::Tool { id, name, input } => {
                self.finish_tool(id, &name, &input, out)?;
                return Ok(());
            }
        }
        let stop = Event::BlockStop { index: self.index };
        self.emit(stop, out);
        Ok(())
    }

    fn signature(&mut self, signature: String, out: &mut Vec<Event>) {
        self.emit(
            Event::BlockDelta {
                index: self.index,
                delta: BlockDelta::ThinkingSignature(signature),
            },
            out,
        );
    }
}

/// Repeated chunks shorter than this are real output, not an upstream duplicate.
const MIN_DUPLICATE_LEN: usize = 24;

/// The canonical event stream of one Kiro response body.
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
