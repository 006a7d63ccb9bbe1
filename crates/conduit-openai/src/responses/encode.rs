//! The Responses response object: built from a canonical [`Response`] (non-streaming body) or
//! piece by piece by the SSE encoder; item ids, usage, status, and storing the conversation.

use conduit_core::{tokens, Block, Error, Message, Response, Role, StopReason, Usage};

use super::store::ResponseStore;
use super::wire::{
    self, IncompleteDetails, OutputItem, OutputText, ReasoningEcho, ResponseError, ResponseObject,
    SummaryText,
};
use super::Context;
use crate::common;

/// The id of output item `index` of a response: `msg_`/`rs_`/`fc_` + the response id's suffix.
pub(crate) fn item_id(ctx: &Context, prefix: &str, index: usize) -> String {
    let base = ctx
        .response_id
        .strip_prefix("resp_")
        .unwrap_or(&ctx.response_id);
    format!("{prefix}_{base}_{index}")
}

pub(crate) fn message_item(id: String, status: &'static str, text: String) -> OutputItem {
    OutputItem::Message {
        id,
        status,
        role: "assistant",
        content: if status == "in_progress" {
            vec![]
        } else {
            vec![output_text(text)]
        },
    }
}

pub(crate) fn output_text(text: String) -> OutputText {
    OutputText {
        kind: "output_text",
        text,
        annotations: vec![],
    }
}

pub(crate) fn reasoning_item(id: String, text: Option<String>) -> OutputItem {
    OutputItem::Reasoning {
        id,
        summary: text.into_iter().map(summary_text).collect(),
    }
}

pub(crate) fn summary_text(text: String) -> SummaryText {
    SummaryText {
        kind: "summary_text",
        text,
    }
}

/// Usage in the Responses shape. `input_tokens` counts cached tokens too (Anthropic-style input
/// does not); reasoning tokens are estimated from the thinking text, capped by the output.
pub(crate) fn usage(u: &Usage, fallback_input: u32, thinking: &str) -> wire::Usage {
    let input = if u.input_tokens == 0 {
        fallback_input
    } else {
        u.input_tokens
    };
    let input = input + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    let reasoning = if thinking.is_empty() {
        0
    } else {
        tokens::count_text(thinking).min(u.output_tokens)
    };
    wire::Usage {
        input_tokens: input,
        input_tokens_details: wire::InputTokensDetails {
            cached_tokens: u.cache_read_input_tokens,
        },
        output_tokens: u.output_tokens,
        output_tokens_details: wire::OutputTokensDetails {
            reasoning_tokens: reasoning,
        },
        total_tokens: input + u.output_tokens,
    }
}

/// How a response ended, as the response object reports it.
pub(crate) enum Status<'a> {
    InProgress,
    Done(StopReason, wire::Usage),
    Failed(&'a Error),
}

pub(crate) fn response_object(
    ctx: &Context,
    model: &str,
    status: Status<'_>,
    output: Vec<OutputItem>,
) -> ResponseObject {
    let (status, usage, error, incomplete_details) = match status {
        Status::InProgress => ("in_progress", None, None, None),
        Status::Done(StopReason::MaxTokens, usage) => (
            "incomplete",
            Some(usage),
            None,
            Some(IncompleteDetails {
                reason: "max_output_tokens",
            }),
        ),
        Status::Done(_, usage) => ("completed", Some(usage), None, None),
        Status::Failed(e) => {
            let (_, kind, code) = common::error_parts(&e.kind);
            let error = ResponseError {
                code: code.unwrap_or(kind),
                message: e.message.clone(),
            };
            ("failed", None, Some(error), None)
        }
    };
    let echo = &ctx.echo;
    ResponseObject {
        id: ctx.response_id.clone(),
        object: "response",
        created_at: ctx.created_at,
        status,
        error,
        incomplete_details,
        instructions: echo.instructions.clone(),
        max_output_tokens: echo.max_output_tokens,
        model: if model.is_empty() { &ctx.model } else { model }.to_owned(),
        output,
        parallel_tool_calls: echo.parallel_tool_calls,
        previous_response_id: ctx.previous_response_id.clone(),
        reasoning: ReasoningEcho {
            effort: echo.reasoning_effort.clone(),
            summary: None,
        },
        store: ctx.store,
        temperature: echo.temperature,
        tool_choice: echo.tool_choice.clone(),
        tools: echo.tools.clone(),
        top_p: echo.top_p,
        truncation: "disabled",
        usage,
        metadata: echo.metadata.clone(),
    }
}

/// Store the input conversation plus `output` under the response id, unless `store: false`.
pub(crate) fn remember(ctx: &Context, store: &ResponseStore, output: Vec<Block>) {
    if !ctx.store {
        return;
    }
    let mut conversation = ctx.conversation.clone();
    if !output.is_empty() {
        conversation.messages.push(Message {
            role: Role::Assistant,
            content: output,
        });
    }
    store.put(ctx.response_id.clone(), conversation);
}

/// The non-streaming `/v1/responses` body (the same object `response.completed` carries); the
/// conversation is stored as a side effect unless `store: false`.
pub fn response_body(r: &Response, ctx: &Context, store: &ResponseStore) -> Vec<u8> {
    let mut output = Vec::with_capacity(r.content.len());
    let mut thinking = String::new();
    for block in &r.content {
        let index = output.len();
        match block {
            Block::Text(text) => output.push(message_item(
                item_id(ctx, "msg", index),
                "completed",
                text.clone(),
            )),
            Block::Thinking { text, .. } => {
                thinking.push_str(text);
                output.push(reasoning_item(
                    item_id(ctx, "rs", index),
                    Some(text.clone()),
                ));
            }
            Block::ToolUse { id, name, input } => output.push(OutputItem::FunctionCall {
                id: item_id(ctx, "fc", index),
                status: "completed",
                arguments: input.to_string(),
                call_id: id.clone(),
                name: name.clone(),
            }),
            Block::Image(_) | Block::ToolResult { .. } | Block::RedactedThinking { .. } => {}
        }
    }
    let usage = usage(&r.usage, 0, &thinking);
    let object = response_object(ctx, &r.model, Status::Done(r.stop_reason, usage), output);
    remember(ctx, store, r.content.clone());
    common::to_json(&object)
}
