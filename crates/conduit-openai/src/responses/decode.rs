//! Responses request (wire) → canonical [`Request`] plus the [`Context`] the encoders need.

use conduit_core::{
    Block, Error, Message, Request, RequestMeta, Role, Tool, ToolChoice, ToolResultContent,
};
use serde_json::{json, Value};

use super::store::{Conversation, ResponseStore};
use super::wire::{self, InputItem, InputPart, ToolEcho};
use super::{Context, Echo};
use crate::common::{self, TextOrParts};
// Consecutive `function_call` items become one assistant turn, their outputs one user turn.
use conduit_core::request::push_merged;

pub fn request(
    w: wire::ResponsesRequest,
    store: &ResponseStore,
) -> Result<(Request, Context), Error> {
    let model = match w.model {
        Some(m) if !m.trim().is_empty() => m,
        Some(_) => return Err(Error::invalid_request("model: must not be empty")),
        None => return Err(Error::invalid_request("model: field required")),
    };
    if w.background == Some(true) {
        return Err(Error::invalid_request(
            "background: background responses are not supported by this gateway; send the \
             request without `background` (optionally with `stream: true`)",
        ));
    }
    if w.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(Error::invalid_request(
            "conversation: server-side conversations are not supported by this gateway; use \
             `previous_response_id` or send the whole history in `input`",
        ));
    }

    let mut conversation = match w.previous_response_id.as_deref() {
        None => Conversation::default(),
        Some(id) => store.get(id).map(|c| (*c).clone()).ok_or_else(|| {
            Error::invalid_request(format!(
                "previous_response_id: previous response not found: `{id}` (responses are kept \
                 in memory for a limited time and only with `store: true`; resend the history \
                 in `input`)"
            ))
        })?,
    };
    match w.input {
        None => {}
        Some(TextOrParts::Text(text)) => {
            push_merged(&mut conversation.messages, Message::user_text(text))
        }
        Some(TextOrParts::Items(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                input_item(item, &format!("input.{i}"), &mut conversation)?;
            }
        }
    }
    if conversation.messages.is_empty() {
        return Err(Error::invalid_request(
            "input: at least one user or assistant message is required",
        ));
    }

    let (tools, echo_tools) = tools(w.tools.unwrap_or_default())?;
    let tool_choice = match &w.tool_choice {
        Some(_) if tools.is_empty() => None,
        Some(c) => tool_choice(c)?,
        None => None,
    };
    let mut system: Vec<String> = w
        .instructions
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    system.extend(conversation.system.iter().cloned());
    if let Some(format) = w.text.as_ref().and_then(|t| t.format.as_ref()) {
        system.extend(common::format_instruction(format, "text.format")?);
    }
    let effort = w.reasoning.and_then(|r| r.effort);
    let (thinking, effort_level) = common::thinking(effort.as_deref());

    let request = Request {
        model: model.clone(),
        system,
        messages: conversation.messages.clone(),
        tools,
        tool_choice,
        max_tokens: w.max_output_tokens.filter(|&n| n > 0),
        thinking,
        effort: effort_level,
        temperature: w.temperature,
        top_p: w.top_p,
        stop_sequences: Vec::new(),
        stream: w.stream.unwrap_or(false),
        meta: RequestMeta {
            session_id: None,
            user_id: w.user,
        },
    };
    let context = Context {
        response_id: format!("resp_{}", uuid::Uuid::new_v4().simple()),
        created_at: common::unix_now(),
        model,
        store: w.store.unwrap_or(true),
        previous_response_id: w.previous_response_id,
        conversation,
        echo: Echo {
            instructions: w.instructions,
            max_output_tokens: w.max_output_tokens,
            parallel_tool_calls: w.parallel_tool_calls.unwrap_or(true),
            reasoning_effort: effort,
            temperature: w.temperature,
            top_p: w.top_p,
            tool_choice: w.tool_choice.unwrap_or_else(|| json!("auto")),
            tools: echo_tools,
            metadata: w.metadata.unwrap_or_else(|| json!({})),
        },
    };
    Ok((request, context))
}

fn input_item(item: InputItem, path: &str, conv: &mut Conversation) -> Result<(), Error> {
    let kind = item.kind.as_deref().unwrap_or("message");
    let (role, block) = match kind {
        "message" => return message(item, path, conv),
        "function_call" => {
            let call_id = required(item.call_id, path, "call_id")?;
            let name = required(item.name, path, "name")?;
            let arguments = item.arguments.unwrap_or_default();
            let input = common::parse_arguments(&arguments, &format!("{path}.arguments"))?;
            let block = Block::ToolUse {
                id: call_id,
                name,
                input,
            };
            (Role::Assistant, block)
        }
        "custom_tool_call" => {
            let block = Block::ToolUse {
                id: required(item.call_id, path, "call_id")?,
                name: required(item.name, path, "name")?,
                input: json!({ "input": item.input.unwrap_or_default() }),
            };
            (Role::Assistant, block)
        }
        "function_call_output" | "custom_tool_call_output" => {
            let tool_use_id = required(item.call_id, path, "call_id")?;
            let output = item.output.ok_or_else(|| missing(path, "output"))?;
            let block = Block::ToolResult {
                tool_use_id,
                content: tool_output(output, &format!("{path}.output"))?,
                is_error: false,
            };
            (Role::User, block)
        }
        "reasoning" | "web_search_call" => return Ok(()),
        other => {
            return Err(Error::invalid_request(format!(
                "{path}.type: input item type `{other}` is not supported by this gateway; it \
                 accepts message, function_call, function_call_output, custom_tool_call, \
                 custom_tool_call_output and reasoning items"
            )))
        }
    };
    push_merged(
        &mut conv.messages,
        Message {
            role,
            content: vec![block],
        },
    );
    Ok(())
}

fn message(item: InputItem, path: &str, conv: &mut Conversation) -> Result<(), Error> {
    let role = required(item.role, path, "role")?;
    let content = item.content.ok_or_else(|| missing(path, "content"))?;
    let path = format!("{path}.content");
    let role = match role.as_str() {
        "system" | "developer" => {
            conv.system.extend(system_texts(content, &path)?);
            return Ok(());
        }
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(Error::invalid_request(format!(
                "{path}: unknown role `{other}`; expected user, assistant, system or developer"
            )))
        }
    };
    let blocks = match content {
        TextOrParts::Text(s) if s.is_empty() && role == Role::Assistant => vec![],
        TextOrParts::Text(s) => vec![Block::Text(s)],
        TextOrParts::Items(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.into_iter().enumerate() {
                if let Some(b) = part(p, &format!("{path}.{i}"))? {
                    out.push(b);
                }
            }
            out
        }
    };
    if !blocks.is_empty() {
        push_merged(
            &mut conv.messages,
            Message {
                role,
                content: blocks,
            },
        );
    }
    Ok(())
}

/// A content part of a user or assistant message; empty text is dropped.
fn part(p: InputPart, path: &str) -> Result<Option<Block>, Error> {
    Ok(match p.kind.as_str() {
        "input_text" | "output_text" | "text" => {
            let text = p.text.ok_or_else(|| missing(path, "text"))?;
            (!text.is_empty()).then_some(Block::Text(text))
        }
        "refusal" => p.refusal.filter(|r| !r.is_empty()).map(Block::Text),
        "input_image" => Some(Block::Image(image(p, path)?)),
        other => return Err(unsupported_part(other, path)),
    })
}

fn image(p: InputPart, path: &str) -> Result<conduit_core::Image, Error> {
    match (p.image_url, p.file_id) {
        (Some(url), _) => common::image_from_url(&url, &format!("{path}.image_url")),
        (None, Some(_)) => Err(Error::invalid_request(format!(
            "{path}.file_id: Files API images are not supported by this gateway; send the image \
             inline as a base64 data URL in `image_url`"
        ))),
        (None, None) => Err(missing(path, "image_url")),
    }
}

fn system_texts(content: TextOrParts<InputPart>, path: &str) -> Result<Vec<String>, Error> {
    match content {
        TextOrParts::Text(s) => Ok(if s.is_empty() { vec![] } else { vec![s] }),
        TextOrParts::Items(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.into_iter().enumerate() {
                let path = format!("{path}.{i}");
                match part(p, &path)? {
                    None => {}
                    Some(Block::Text(t)) => out.push(t),
                    Some(_) => {
                        return Err(Error::invalid_request(format!(
                            "{path}: system and developer messages may contain text only"
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn tool_output(
    output: TextOrParts<InputPart>,
    path: &str,
) -> Result<Vec<ToolResultContent>, Error> {
    match output {
        TextOrParts::Text(s) if s.is_empty() => Ok(vec![]),
        TextOrParts::Text(s) => Ok(vec![ToolResultContent::Text(s)]),
        TextOrParts::Items(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.into_iter().enumerate() {
                match part(p, &format!("{path}.{i}"))? {
                    None => {}
                    Some(Block::Text(t)) => out.push(ToolResultContent::Text(t)),
                    Some(Block::Image(img)) => out.push(ToolResultContent::Image(img)),
                    Some(_) => {}
                }
            }
            Ok(out)
        }
    }
}

/// Function tools are kept (and echoed); every other tool type is dropped.
fn tools(wire: Vec<wire::Tool>) -> Result<(Vec<Tool>, Vec<ToolEcho>), Error> {
    let mut tools = Vec::new();
    let mut echo = Vec::new();
    for (i, t) in wire.into_iter().enumerate() {
        if t.kind != "function" {
            continue;
        }
        let name = required(t.name, &format!("tools.{i}"), "name")?;
        let description = t.description.unwrap_or_default();
        let parameters = common::parameters(t.parameters);
        echo.push(ToolEcho {
            kind: "function",
            name: name.clone(),
            description: description.clone(),
            parameters: parameters.clone(),
            strict: t.strict.unwrap_or(false),
        });
        tools.push(Tool {
            name,
            description,
            input_schema: parameters,
        });
    }
    Ok((tools, echo))
}

fn tool_choice(c: &Value) -> Result<Option<ToolChoice>, Error> {
    if let Some(mode) = c.as_str() {
        return match mode {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Any)),
            other => Err(Error::invalid_request(format!(
                "tool_choice: unknown value `{other}`; expected auto, none, required or \
                 {{\"type\":\"function\",\"name\":...}}"
            ))),
        };
    }
    let kind = c.get("type").and_then(Value::as_str);
    match kind {
        Some("function") => match c.get("name").and_then(Value::as_str) {
            Some(name) => Ok(Some(ToolChoice::Tool {
                name: name.to_owned(),
            })),
            None => Err(missing("tool_choice", "name")),
        },
        // `allowed_tools`, or a forced tool of a type that was dropped: let the model choose
        // among the tools that remain.
        Some(_) => Ok(Some(ToolChoice::Auto)),
        None => Err(missing("tool_choice", "type")),
    }
}

fn required(value: Option<String>, path: &str, field: &str) -> Result<String, Error> {
    value.ok_or_else(|| missing(path, field))
}

fn missing(path: &str, field: &str) -> Error {
    Error::invalid_request(format!("{path}: missing field `{field}`"))
}

fn unsupported_part(kind: &str, path: &str) -> Error {
    Error::invalid_request(format!(
        "{path}: content part type `{kind}` is not supported by this gateway; it accepts \
         input_text, output_text, refusal and input_image (base64 data URL) parts"
    ))
}
