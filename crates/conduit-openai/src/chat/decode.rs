//! Chat Completions request (wire) → canonical [`Request`], with 400s that name the field.

use conduit_core::Error;
use conduit_core::{
    Block, Message, Request, RequestMeta, Role, Tool, ToolChoice, ToolResultContent,
};

use super::wire::{self, ContentPart};
use crate::common::{self, TextOrParts};

/// Convert a parsed request; every refusal names the option or JSON path at fault.
pub fn request(w: wire::ChatRequest) -> Result<Request, Error> {
    refuse_unsupported(&w)?;
    let model = match w.model {
        Some(m) if !m.trim().is_empty() => m,
        Some(_) => return Err(Error::invalid_request("model: must not be empty")),
        None => return Err(Error::invalid_request("model: field required")),
    };
    let wire_messages = w
        .messages
        .ok_or_else(|| Error::invalid_request("messages: field required"))?;
    let mut system = Vec::new();
    let messages = messages(wire_messages, &mut system)?;
    if let Some(format) = &w.response_format {
        system.extend(common::format_instruction(format, "response_format")?);
    }
    let tools = tools(w.tools.unwrap_or_default())?;
    let tool_choice = match w.tool_choice {
        // A choice without tools (none declared, or only non-function ones) cannot be honoured
        // and would make the upstream refuse the request.
        Some(_) if tools.is_empty() => None,
        Some(c) => Some(tool_choice(c)?),
        None => None,
    };
    let stop_sequences = match w.stop {
        None => Vec::new(),
        Some(wire::Stop::One(s)) => vec![s],
        Some(wire::Stop::Many(v)) => v,
    };
    let (thinking, effort) = common::thinking(w.reasoning_effort.as_deref());
    Ok(Request {
        model,
        system,
        messages,
        tools,
        tool_choice,
        max_tokens: w.max_completion_tokens.or(w.max_tokens).filter(|&n| n > 0),
        thinking,
        effort,
        temperature: w.temperature,
        top_p: w.top_p,
        stop_sequences,
        stream: w.stream.unwrap_or(false),
        meta: RequestMeta {
            session_id: None,
            user_id: w.user,
        },
    })
}

/// Options whose answer the gateway cannot give; accepting them would hand the client a
/// result that is silently not what it asked for.
fn refuse_unsupported(w: &wire::ChatRequest) -> Result<(), Error> {
    if w.n.is_some_and(|n| n > 1) {
        return Err(Error::invalid_request(
            "n: only n=1 is supported by this gateway (its upstream returns one choice); send \
             separate requests for several completions",
        ));
    }
    if w.logprobs == Some(true) {
        return Err(Error::invalid_request(
            "logprobs: log probabilities are not available from this gateway's upstream; omit \
             `logprobs` or set it to false",
        ));
    }
    let audio_out = w
        .modalities
        .as_ref()
        .is_some_and(|m| m.iter().any(|m| m == "audio"));
    if audio_out || w.audio.as_ref().is_some_and(|a| !a.is_null()) {
        return Err(Error::invalid_request(
            "modalities: audio output is not supported by this gateway; request text only",
        ));
    }
    if w.functions.as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::invalid_request(
            "functions: the deprecated `functions` parameter is not supported; declare them as \
             `tools` with type `function`",
        ));
    }
    Ok(())
}

/// Fold system/developer messages into `system`, turn `tool` messages into tool results in a
/// user turn, and merge consecutive turns of one role (several tool results become one turn).
fn messages(wire: Vec<wire::Message>, system: &mut Vec<String>) -> Result<Vec<Message>, Error> {
    if wire.is_empty() {
        return Err(Error::invalid_request(
            "messages: at least one message is required",
        ));
    }
    let mut out: Vec<Message> = Vec::with_capacity(wire.len());
    for (i, m) in wire.into_iter().enumerate() {
        let path = format!("messages.{i}");
        let (role, content) = match m.role.as_str() {
            "system" | "developer" => {
                system.extend(texts(m.content, &format!("{path}.content"))?);
                continue;
            }
            "user" => (Role::User, user_content(m.content, &path)?),
            "assistant" => (Role::Assistant, assistant_content(m, &path)?),
            "tool" => (Role::User, vec![tool_result(m, &path)?]),
            "function" => {
                return Err(Error::invalid_request(format!(
                    "{path}.role: the deprecated `function` role is not supported; use `tool` \
                     messages with a tool_call_id"
                )))
            }
            other => {
                return Err(Error::invalid_request(format!(
                    "{path}.role: unknown role `{other}`; expected system, developer, user, \
                     assistant or tool"
                )))
            }
        };
        if content.is_empty() {
            continue;
        }
        conduit_core::request::push_merged(&mut out, Message { role, content });
    }
    if out.is_empty() {
        return Err(Error::invalid_request(
            "messages: at least one user or assistant message is required",
        ));
    }
    Ok(out)
}

/// The texts of a system/developer message or a tool result (text parts only).
fn texts(content: Option<TextOrParts<ContentPart>>, path: &str) -> Result<Vec<String>, Error> {
    match content {
        None => Ok(vec![]),
        Some(TextOrParts::Text(s)) => Ok(if s.is_empty() { vec![] } else { vec![s] }),
        Some(TextOrParts::Items(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.into_iter().enumerate() {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(t)) if t.is_empty() => {}
                    ("text", Some(t)) => out.push(t),
                    ("text", None) => return Err(missing(&format!("{path}.{i}"), "text")),
                    (other, _) => {
                        return Err(Error::invalid_request(format!(
                            "{path}.{i}: only text parts are allowed here, not `{other}`"
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn user_content(
    content: Option<TextOrParts<ContentPart>>,
    path: &str,
) -> Result<Vec<Block>, Error> {
    let path = format!("{path}.content");
    match content {
        None => Err(missing(&path, "content")),
        Some(TextOrParts::Text(s)) => Ok(vec![Block::Text(s)]),
        Some(TextOrParts::Items(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.into_iter().enumerate() {
                let path = format!("{path}.{i}");
                out.push(match p.kind.as_str() {
                    "text" => Block::Text(p.text.ok_or_else(|| missing(&path, "text"))?),
                    "image_url" => {
                        let url = p.image_url.ok_or_else(|| missing(&path, "image_url"))?;
                        Block::Image(common::image_from_url(
                            url.url(),
                            &format!("{path}.image_url.url"),
                        )?)
                    }
                    other => return Err(unsupported_part(other, &path)),
                });
            }
            Ok(out)
        }
    }
}

fn assistant_content(m: wire::Message, path: &str) -> Result<Vec<Block>, Error> {
    let mut out = Vec::new();
    if let Some(reasoning) = m.reasoning_content.filter(|r| !r.is_empty()) {
        out.push(Block::Thinking {
            text: reasoning,
            signature: None,
        });
    }
    match m.content {
        None => {}
        Some(TextOrParts::Text(s)) if s.is_empty() => {}
        Some(TextOrParts::Text(s)) => out.push(Block::Text(s)),
        Some(TextOrParts::Items(parts)) => {
            for (i, p) in parts.into_iter().enumerate() {
                let path = format!("{path}.content.{i}");
                let text = match p.kind.as_str() {
                    "text" => p.text.ok_or_else(|| missing(&path, "text"))?,
                    "refusal" => p.refusal.ok_or_else(|| missing(&path, "refusal"))?,
                    other => return Err(unsupported_part(other, &path)),
                };
                if !text.is_empty() {
                    out.push(Block::Text(text));
                }
            }
        }
    }
    for (i, call) in m.tool_calls.unwrap_or_default().into_iter().enumerate() {
        let input = common::parse_arguments(
            &call.function.arguments,
            &format!("{path}.tool_calls.{i}.function.arguments"),
        )?;
        out.push(Block::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
        });
    }
    Ok(out)
}

fn tool_result(m: wire::Message, path: &str) -> Result<Block, Error> {
    let tool_use_id = m
        .tool_call_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| missing(path, "tool_call_id"))?;
    let content = texts(m.content, &format!("{path}.content"))?
        .into_iter()
        .map(ToolResultContent::Text)
        .collect();
    Ok(Block::ToolResult {
        tool_use_id,
        content,
        is_error: false,
    })
}

/// Function tools are kept; other tool types (`custom`, ...) are dropped, as the upstream can
/// only call functions.
fn tools(wire: Vec<wire::Tool>) -> Result<Vec<Tool>, Error> {
    let mut out = Vec::with_capacity(wire.len());
    for (i, t) in wire.into_iter().enumerate() {
        if t.kind != "function" {
            continue;
        }
        let f = t
            .function
            .ok_or_else(|| missing(&format!("tools.{i}"), "function"))?;
        out.push(Tool {
            name: f.name,
            description: f.description.unwrap_or_default(),
            input_schema: common::parameters(f.parameters),
        });
    }
    Ok(out)
}

fn tool_choice(c: wire::ToolChoice) -> Result<ToolChoice, Error> {
    match c {
        wire::ToolChoice::Mode(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Any),
            other => Err(Error::invalid_request(format!(
                "tool_choice: unknown value `{other}`; expected auto, none, required or \
                 {{\"type\":\"function\",\"function\":{{\"name\":...}}}}"
            ))),
        },
        wire::ToolChoice::Named(named) => match (named.kind.as_str(), named.function) {
            ("function", Some(f)) => Ok(ToolChoice::Tool { name: f.name }),
            ("function", None) => Err(missing("tool_choice", "function")),
            // `allowed_tools` narrows the set per request; letting the model choose among all
            // declared tools is the closest the upstream can do.
            ("allowed_tools", _) => Ok(ToolChoice::Auto),
            (other, _) => Err(Error::invalid_request(format!(
                "tool_choice.type: unsupported type `{other}`; use `function`"
            ))),
        },
    }
}

fn missing(path: &str, field: &str) -> Error {
    Error::invalid_request(format!("{path}: missing field `{field}`"))
}

fn unsupported_part(kind: &str, path: &str) -> Error {
    Error::invalid_request(format!(
        "{path}: content part type `{kind}` is not supported by this gateway; it accepts text \
         and image_url (base64 data URL) parts"
    ))
}
