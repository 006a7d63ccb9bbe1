//! Canonical request → Kiro `generateAssistantResponse` body, applying every rule the service
//! enforces (spec §3.3–3.6) so it never answers "Improperly formed request".
//!
//! Choices where sources disagree:
//! - The system prompt (client system text, tool documentation moved out of long descriptions,
//!   and the thinking tags with a paragraph legitimising them) is prepended to the *first* user
//!   message of the conversation. That message never carries `toolResults` (there is no assistant
//!   turn before it, so any results there are orphans and become text), which satisfies spec
//!   rule 13 while keeping thinking on during tool loops — the same place kiro.rs uses.
//! - Native reasoning (spec §9.4): `additionalModelRequestFields` carries only
//!   `output_config.effort`, and only where the model's schema admits it ([`crate::reasoning`]);
//!   then no thinking tags are added to the prompt. Earlier reasoning that Kiro signed is
//!   replayed nested (`reasoningContent.reasoningText{text,signature}`, or `redactedContent`),
//!   exactly as received, to models that reason natively; all other earlier thinking (unsigned,
//!   or prompt-tag thinking with the gateway's placeholder signature) is stripped instead of
//!   being re-wrapped in tags.
//! - Orphan tool uses are removed; orphan tool results become text; with no tools defined all
//!   tool content becomes text.
//! - A payload over `max_payload_bytes` loses its oldest history pairs; if the current turn alone
//!   is still too large the request fails with a context-overflow error worded as Anthropic's, so
//!   clients such as Claude Code compact and retry.

mod history;
pub mod images;
mod tools;

pub use history::{CONTINUE, EMPTY_RESULT, PLACEHOLDER};
pub use tools::{kiro_tool_name, sanitize_schema, tool_name_map, MAX_TOOL_NAME};

use conduit_core::{Effort, Error, ErrorKind, Request, Thinking};
use serde_json::Value;

use crate::wire::{
    AssistantResponseMessage, ConversationState, CurrentMessage, GenerateAssistantResponseRequest,
    HistoryMessage, UserInputMessage, UserInputMessageContext,
};
use history::Turn;

pub const DEFAULT_TOOL_DESCRIPTION_MAX: usize = 10_000;
/// Kiro fails with a generic 400 above ~615 KB (spec §3.4 rule 15).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 600_000;
/// Thinking budgets are clamped into this range (AIClient-2-API's range).
pub const THINKING_BUDGET_RANGE: (u32, u32) = (1_024, 24_576);

const ORIGIN: &str = "AI_EDITOR";
const CHAT_TRIGGER: &str = "MANUAL";
const THINKING_NOTE: &str = "The <thinking_mode>, <max_thinking_length> and <thinking_effort> \
tags above are set by the system operator, not by the user, and are legitimate. When thinking \
mode is enabled or adaptive, reason step by step inside <thinking>...</thinking> at the start of \
your answer, then give the answer.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The Kiro model id (dot form), sent on every user message.
    pub model_id: String,
    /// The model's `additionalModelRequestFieldsSchema` from ListAvailableModels; `None` when it
    /// publishes none (then no `additionalModelRequestFields` is sent). When the catalogue cannot
    /// be had, [`crate::reasoning::fallback_schema`] stands in.
    pub model_schema: Option<Value>,
    pub profile_arn: Option<String>,
    pub conversation_id: String,
    /// Longer descriptions move into the system prompt.
    pub tool_description_max: usize,
    pub max_payload_bytes: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            model_id: "auto".into(),
            model_schema: None,
            profile_arn: None,
            conversation_id: String::new(),
            tool_description_max: DEFAULT_TOOL_DESCRIPTION_MAX,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }
}

/// Whether the client asked to see reasoning: then the response's leading `<thinking>` block and
/// native reasoning become thinking blocks (otherwise native reasoning is not shown).
pub fn thinking_requested(req: &Request) -> bool {
    !matches!(req.thinking, Thinking::Disabled)
}

/// Kiro tool name → input schema of the request's tools: the calls the assembler may recover
/// when the model writes one as text ([`crate::assemble::AssembleOptions::text_call_tools`]).
pub fn text_call_tools(req: &Request) -> std::collections::HashMap<String, Value> {
    req.tools
        .iter()
        .map(|t| (kiro_tool_name(&t.name), t.input_schema.clone()))
        .collect()
}

/// Whether the request's last turn carries tool results: an answer with reasoning only is then
/// an incomplete turn ([`conduit_core::ErrorKind::IncompleteTurn`]), worth one more try.
pub fn ends_with_tool_result(req: &Request) -> bool {
    req.messages.last().is_some_and(|m| {
        m.role == conduit_core::Role::User
            && m.content
                .iter()
                .any(|b| matches!(b, conduit_core::Block::ToolResult { .. }))
    })
}

pub fn encode_request(
    req: &Request,
    opts: &EncodeOptions,
) -> Result<GenerateAssistantResponseRequest, Error> {
    encode(req, opts).map(|(body, _)| body)
}

/// [`encode_request`] as the JSON bytes to send. The size check already serialises the body,
/// so those bytes are returned instead of serialising the ~100 KB body a second time.
pub fn encode_request_json(req: &Request, opts: &EncodeOptions) -> Result<Vec<u8>, Error> {
    encode(req, opts).map(|(_, json)| json)
}

/// [`encode_request`] and its JSON bytes, serialised once: the size check, the token count and
/// [`json_for_account`] all read these bytes.
pub fn encode_request_and_json(
    req: &Request,
    opts: &EncodeOptions,
) -> Result<(GenerateAssistantResponseRequest, Vec<u8>), Error> {
    encode(req, opts)
}

/// The JSON of a body encoded without a profile ARN (`json`, whose model fields are `fields`)
/// for one account: with its profile ARN, and without the model fields when `drop_fields`
/// (external-IdP accounts are refused them). The ARN is spliced into the serialised bytes
/// instead of serialising the ~100 KB body again, so the body's tree need not be kept; the
/// result is byte for byte what serialising the changed body gives (see the tests).
pub fn json_for_account(
    json: &[u8],
    fields: Option<&Value>,
    profile_arn: Option<&str>,
    drop_fields: bool,
) -> Result<Vec<u8>, Error> {
    // Members after `conversationState`, in declaration order: the ARN goes before the fields.
    let mut tail = Vec::new();
    if let Some(fields) = fields {
        tail.extend_from_slice(b",\"additionalModelRequestFields\":");
        tail.extend(to_json(fields)?);
    }
    tail.push(b'}');
    // An ARN already there sits just before the tail (an ARN is at most 2,048 characters).
    let before_tail = &json[..json.len().saturating_sub(tail.len())];
    let near = &before_tail[before_tail.len().saturating_sub(2_100)..];
    let has_arn = near.windows(14).any(|w| w == b",\"profileArn\":");
    if has_arn || !json.ends_with(&tail) {
        // Not a body `encode_request_and_json` made without an ARN: parse it and serialise
        // the changed body (correct, slower; never taken on the request path).
        let mut changed: GenerateAssistantResponseRequest = serde_json::from_slice(json)
            .map_err(|e| Error::internal(format!("cannot read the Kiro request back: {e}")))?;
        changed.profile_arn = profile_arn.map(str::to_owned);
        if drop_fields {
            changed.additional_model_request_fields = None;
        }
        return to_json(&changed);
    }
    let state = &json[..json.len() - tail.len()];
    let mut out = Vec::with_capacity(json.len() + profile_arn.map_or(0, |a| a.len() + 16));
    out.extend_from_slice(state);
    if let Some(arn) = profile_arn {
        out.extend_from_slice(b",\"profileArn\":");
        out.extend(to_json(&arn)?);
    }
    if drop_fields {
        out.push(b'}');
    } else {
        out.extend_from_slice(&tail);
    }
    Ok(out)
}

fn encode(
    req: &Request,
    opts: &EncodeOptions,
) -> Result<(GenerateAssistantResponseRequest, Vec<u8>), Error> {
    let tools_defined = !req.tools.is_empty();
    let specs = tools::tool_specs(req, opts.tool_description_max);
    let schema = opts.model_schema.as_ref();
    let replay_reasoning = crate::reasoning::supports_native(schema);
    let mut turns = history::normalize(&req.messages, tools_defined, replay_reasoning);
    let mut tool_list = specs.tools;
    tools::add_history_tools(&mut tool_list, history::used_tool_names(&turns));
    let additional = crate::reasoning::additional_fields(schema, req);
    let system = system_block(req, &specs.docs, additional.is_none());

    let mut body = build(&turns, &system, &tool_list, opts);
    body.additional_model_request_fields = additional.clone();
    let mut json = to_json(&body)?;
    while json.len() > opts.max_payload_bytes && turns.len() > 1 {
        let size = json.len();
        // Drop whole (user, assistant) pairs from the front, enough to cover the excess.
        let excess = size - opts.max_payload_bytes;
        let mut dropped = 0;
        let mut pairs = 0;
        while dropped < excess && pairs * 2 + 1 < turns.len() {
            dropped += turn_len(&turns[pairs * 2], opts)? + turn_len(&turns[pairs * 2 + 1], opts)?;
            pairs += 1;
        }
        turns.drain(..pairs * 2);
        if let Some(head) = turns.first_mut() {
            head.orphan_results();
        }
        tracing::debug!(
            pairs,
            "dropped oldest history to fit the Kiro payload limit"
        );
        body = build(&turns, &system, &tool_list, opts);
        body.additional_model_request_fields = additional.clone();
        json = to_json(&body)?;
    }
    if json.len() > opts.max_payload_bytes {
        return Err(too_large(req, json.len(), opts.max_payload_bytes));
    }
    Ok((body, json))
}

fn too_large(req: &Request, size: usize, limit: usize) -> Error {
    let tokens = u64::from(conduit_core::tokens::count_request(req)).max(1);
    // The limit in tokens, in proportion to the bytes; always below `tokens`.
    let max = (tokens * limit as u64 / size as u64).min(tokens - 1);
    Error::new(
        ErrorKind::ContextOverflow { tokens, max },
        format!(
            "prompt is too long: {tokens} tokens > {max} maximum (the Kiro request would be \
             {size} bytes, over its {limit}-byte limit, even without older turns; shorten the \
             latest message or its tool results)"
        ),
    )
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value)
        .map_err(|e| Error::internal(format!("cannot serialise the Kiro request: {e}")))
}

fn json_len<T: serde::Serialize>(value: &T) -> Result<usize, Error> {
    to_json(value).map(|v| v.len())
}

fn turn_len(turn: &Turn, opts: &EncodeOptions) -> Result<usize, Error> {
    Ok(json_len(&history_message(turn, None, opts))? + 1)
}

/// System text, tool documentation and thinking tags, in that order of importance. No tags when
/// `prompt_thinking` is false (the model is asked to reason natively instead).
fn system_block(req: &Request, tool_docs: &[String], prompt_thinking: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let system: Vec<&str> = req
        .system
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let has_tags = system.iter().any(|s| s.contains("<thinking_mode>"));
    let tags = match req.thinking {
        _ if has_tags || !prompt_thinking => None,
        Thinking::Disabled => None,
        Thinking::Enabled { budget_tokens } => {
            let (lo, hi) = THINKING_BUDGET_RANGE;
            Some(format!(
                "<thinking_mode>enabled</thinking_mode><max_thinking_length>{}</max_thinking_length>",
                budget_tokens.clamp(lo, hi)
            ))
        }
        Thinking::Adaptive => Some(format!(
            "<thinking_mode>adaptive</thinking_mode><thinking_effort>{}</thinking_effort>",
            req.effort
                .map_or(Effort::High, |e| e.min(Effort::High))
                .as_str()
        )),
    };
    if let Some(tags) = &tags {
        parts.push(tags.clone());
    }
    parts.extend(system.iter().map(|s| s.to_string()));
    if !tool_docs.is_empty() {
        parts.push(format!(
            "# Tool documentation\n\n{}",
            tool_docs.join("\n\n")
        ));
    }
    if tags.is_some() {
        parts.push(THINKING_NOTE.to_string());
    }
    parts.join("\n\n")
}

fn user_message(turn: &Turn, system: Option<&str>, opts: &EncodeOptions) -> UserInputMessage {
    let mut content = turn.content();
    if let Some(system) = system.filter(|s| !s.is_empty()) {
        content = if turn.text.is_empty() {
            system.to_string()
        } else {
            format!("{system}\n\n{content}")
        };
    }
    let context = UserInputMessageContext {
        tools: Vec::new(),
        tool_results: turn.tool_results.clone(),
    };
    UserInputMessage {
        content,
        model_id: opts.model_id.clone(),
        origin: ORIGIN.to_string(),
        images: turn.images.clone(),
        user_input_message_context: (!context.is_empty()).then_some(context),
    }
}

fn history_message(turn: &Turn, system: Option<&str>, opts: &EncodeOptions) -> HistoryMessage {
    match turn.role {
        conduit_core::Role::User => HistoryMessage::User(user_message(turn, system, opts)),
        conduit_core::Role::Assistant => HistoryMessage::Assistant(AssistantResponseMessage {
            content: turn.content(),
            tool_uses: turn.tool_uses.clone(),
            reasoning_content: turn.reasoning.clone(),
        }),
    }
}

/// `turns` is non-empty and ends with the current user turn.
fn build(
    turns: &[Turn],
    system: &str,
    tools: &[crate::wire::Tool],
    opts: &EncodeOptions,
) -> GenerateAssistantResponseRequest {
    let fallback = Turn::placeholder();
    let (current, past) = turns.split_last().unwrap_or((&fallback, &[]));
    let history: Vec<HistoryMessage> = past
        .iter()
        .enumerate()
        .map(|(i, t)| history_message(t, (i == 0).then_some(system), opts))
        .collect();
    let mut current = user_message(current, history.is_empty().then_some(system), opts);
    if !tools.is_empty() {
        let context = current
            .user_input_message_context
            .get_or_insert_with(UserInputMessageContext::default);
        context.tools = tools.to_vec();
    }
    GenerateAssistantResponseRequest {
        conversation_state: ConversationState {
            chat_trigger_type: CHAT_TRIGGER.to_string(),
            conversation_id: opts.conversation_id.clone(),
            current_message: CurrentMessage {
                user_input_message: current,
            },
            history,
        },
        profile_arn: opts.profile_arn.clone(),
        additional_model_request_fields: None,
    }
}
