//! Anthropic Messages request (wire) → canonical [`Request`], with Anthropic-worded 400s.

use conduit_core::{
    Block, Effort, Error, Image, Message, Request, RequestMeta, Role, Thinking, Tool, ToolChoice,
    ToolResultContent,
};

use crate::wire::{self, ContentBlock, TextOrBlocks};

/// Image media types Anthropic (and Kiro) accept.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Parse a request body into wire types. Errors name the JSON path as Anthropic does
/// (`messages.2.content.0: ...`).
pub fn parse(body: &[u8]) -> Result<wire::MessagesRequest, Error> {
    // serde would accept a JSON array as a struct's fields in order; Anthropic wants an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    {
        return Err(Error::invalid_request(
            "the request body must be a JSON object (a Messages request)",
        ));
    }
    conduit_core::wire_util::parse_json(body, "a Messages request")
}

/// Convert a parsed request. `max_tokens` is passed through as sent; whether it is required is
/// the caller's decision (it is for `/v1/messages`, not for `count_tokens`).
pub fn request(w: wire::MessagesRequest) -> Result<Request, Error> {
    let model = match w.model {
        Some(m) if !m.trim().is_empty() => m,
        Some(_) => return Err(Error::invalid_request("model: String should not be empty")),
        None => return Err(Error::invalid_request("model: Field required")),
    };
    let wire_messages = w
        .messages
        .ok_or_else(|| Error::invalid_request("messages: Field required"))?;
    let mut system = match w.system {
        Some(s) => system_texts(s, "system")?,
        None => Vec::new(),
    };
    let messages = messages(wire_messages, &mut system)?;
    let tools = tools(w.tools.unwrap_or_default())?;
    // A tool choice without tools (e.g. only server tools were declared and dropped) cannot be
    // honoured and would make the upstream refuse the request.
    let tool_choice = w
        .tool_choice
        .filter(|_| !tools.is_empty())
        .map(|c| match c {
            wire::ToolChoice::Auto {} => ToolChoice::Auto,
            wire::ToolChoice::Any {} => ToolChoice::Any,
            wire::ToolChoice::None {} => ToolChoice::None,
            wire::ToolChoice::Tool { name } => ToolChoice::Tool { name },
        });
    Ok(Request {
        model,
        system,
        messages,
        tools,
        tool_choice,
        max_tokens: w.max_tokens,
        thinking: thinking(w.thinking),
        effort: w
            .output_config
            .and_then(|o| o.effort)
            .and_then(|e| Effort::parse(&e)),
        temperature: w.temperature,
        top_p: w.top_p,
        stop_sequences: w.stop_sequences.unwrap_or_default(),
        stream: w.stream.unwrap_or(false),
        meta: metadata(w.metadata),
    })
}

/// `metadata.user_id` as sent, plus the session id inside it (for sticky routing when the
/// `X-Claude-Code-Session-Id` header is absent): the `session_id` member of Claude Code
/// 2.1.3xx's JSON form, or the uuid after `_session_` in the older
/// `user_<hash>_account_<uuid>_session_<uuid>` form. Anything else gives no session.
fn metadata(m: Option<wire::Metadata>) -> RequestMeta {
    let Some(raw) = m.and_then(|m| m.user_id) else {
        return RequestMeta::default();
    };
    let (user_id, object) = match raw {
        serde_json::Value::String(s) => {
            let object = serde_json::from_str::<serde_json::Value>(&s)
                .ok()
                .filter(serde_json::Value::is_object);
            (s, object)
        }
        serde_json::Value::Null => return RequestMeta::default(),
        other => (other.to_string(), Some(other)),
    };
    let session_id = match &object {
        Some(o) => o
            .get("session_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        None => user_id.rsplit_once("_session_").map(|(_, s)| s.to_owned()),
    }
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty() && s.len() <= 128);
    RequestMeta {
        session_id,
        user_id: (!user_id.is_empty()).then_some(user_id),
    }
}

/// Fold `role: "system"` turns into `system`, and merge consecutive turns of one role (Anthropic
/// merges them too), so that a system turn between two user turns leaves one user turn.
fn messages(wire: Vec<wire::Message>, system: &mut Vec<String>) -> Result<Vec<Message>, Error> {
    if wire.is_empty() {
        return Err(Error::invalid_request(
            "messages: at least one message is required",
        ));
    }
    let mut out: Vec<Message> = Vec::with_capacity(wire.len());
    for (i, m) in wire.into_iter().enumerate() {
        let role = match m.role {
            wire::Role::System => {
                system.extend(system_texts(m.content, &format!("messages.{i}.content"))?);
                continue;
            }
            wire::Role::User => Role::User,
            wire::Role::Assistant => Role::Assistant,
        };
        let content = content(m.content, &format!("messages.{i}.content"))?;
        conduit_core::request::push_merged(&mut out, Message { role, content });
    }
    if out.is_empty() {
        return Err(Error::invalid_request(
            "messages: at least one user or assistant message is required",
        ));
    }
    Ok(out)
}

/// The texts of a system prompt (top-level `system` or a system-role message).
fn system_texts(content: TextOrBlocks<ContentBlock>, path: &str) -> Result<Vec<String>, Error> {
    match content {
        TextOrBlocks::Text(s) => Ok(if s.is_empty() { vec![] } else { vec![s] }),
        TextOrBlocks::Items(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.into_iter().enumerate() {
                match b {
                    ContentBlock::Text(t) if t.text.is_empty() => {}
                    ContentBlock::Text(t) => out.push(t.text),
                    other => {
                        return Err(Error::invalid_request(format!(
                            "{path}.{i}: system prompt blocks must be text blocks, not `{}`",
                            block_type(&other)
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn content(content: TextOrBlocks<ContentBlock>, path: &str) -> Result<Vec<Block>, Error> {
    match content {
        TextOrBlocks::Text(s) => Ok(vec![Block::Text(s)]),
        TextOrBlocks::Items(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.into_iter().enumerate() {
                if !is_tool_search_block(&b) {
                    out.push(block(b, &format!("{path}.{i}"))?);
                }
            }
            Ok(out)
        }
    }
}

/// Server-side tool search in history (`server_tool_use` of a `tool_search_tool_*` tool and its
/// `tool_search_tool_result`): dropped. Every deferred tool is sent upstream as an ordinary
/// tool, so the search and what it found carry nothing the upstream model needs.
fn is_tool_search_block(b: &ContentBlock) -> bool {
    let ContentBlock::Other(raw) = b else {
        return false;
    };
    let field = |k: &str| raw.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    match field("type") {
        "tool_search_tool_result" => true,
        "server_tool_use" => field("name").starts_with("tool_search_tool"),
        _ => false,
    }
}

fn block(b: ContentBlock, path: &str) -> Result<Block, Error> {
    Ok(match b {
        ContentBlock::Text(t) => Block::Text(t.text),
        ContentBlock::Image(img) => Block::Image(image(img.source, path)?),
        ContentBlock::ToolUse(t) => Block::ToolUse {
            id: t.id,
            name: t.name,
            input: t.input,
        },
        ContentBlock::ToolResult(r) => Block::ToolResult {
            tool_use_id: r.tool_use_id,
            content: tool_result_content(r.content, &format!("{path}.content"))?,
            is_error: r.is_error,
        },
        ContentBlock::Thinking(t) => Block::Thinking {
            text: t.thinking,
            signature: (!t.signature.is_empty()).then_some(t.signature),
        },
        ContentBlock::RedactedThinking(r) => Block::RedactedThinking { data: r.data },
        ContentBlock::Document(d) => Block::Text(document_text(d, path)?),
        ContentBlock::Other(raw) => return Err(unsupported_block(&raw, path)),
    })
}

fn tool_result_content(
    content: Option<TextOrBlocks<ContentBlock>>,
    path: &str,
) -> Result<Vec<ToolResultContent>, Error> {
    let blocks = match content {
        None => return Ok(vec![]),
        Some(TextOrBlocks::Text(s)) if s.is_empty() => return Ok(vec![]),
        Some(TextOrBlocks::Text(s)) => return Ok(vec![ToolResultContent::Text(s)]),
        Some(TextOrBlocks::Items(blocks)) => blocks,
    };
    let mut out = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.into_iter().enumerate() {
        let path = format!("{path}.{i}");
        out.push(match b {
            ContentBlock::Text(t) => ToolResultContent::Text(t.text),
            ContentBlock::Image(img) => ToolResultContent::Image(image(img.source, &path)?),
            ContentBlock::Document(d) => ToolResultContent::Text(document_text(d, &path)?),
            // A tool search (advanced-tool-use beta) answers with references to deferred tools.
            // Every declared tool, deferred or not, is sent upstream as an ordinary tool, so a
            // reference becomes a short note (it keeps the result non-empty and readable).
            ContentBlock::Other(raw)
                if raw.get("type").and_then(|t| t.as_str()) == Some("tool_reference") =>
            {
                let name = raw.get("tool_name").and_then(|t| t.as_str()).unwrap_or("?");
                ToolResultContent::Text(format!("Tool `{name}` is available."))
            }
            other => {
                return Err(Error::invalid_request(format!(
                    "{path}: tool_result content blocks must be text or image blocks, not `{}`",
                    block_type(&other)
                )))
            }
        });
    }
    Ok(out)
}

fn image(source: wire::ImageSource, path: &str) -> Result<Image, Error> {
    match source {
        wire::ImageSource::Base64 { media_type, data } => {
            if !IMAGE_TYPES.contains(&media_type.as_str()) {
                return Err(Error::invalid_request(format!(
                    "{path}.source.media_type: Input should be 'image/jpeg', 'image/png', \
                     'image/gif' or 'image/webp', not '{media_type}'"
                )));
            }
            Ok(Image { media_type, data })
        }
        wire::ImageSource::Url { .. } => Err(Error::invalid_request(format!(
            "{path}.source: image URLs are not supported by this gateway because its upstream \
             (Kiro) cannot fetch them; send the image inline as a base64 source"
        ))),
        wire::ImageSource::File { .. } => Err(Error::invalid_request(format!(
            "{path}.source: Files API images are not supported by this gateway; send the image \
             inline as a base64 source"
        ))),
        wire::ImageSource::Unsupported => Err(Error::invalid_request(format!(
            "{path}.source.type: unsupported image source type; use `base64`"
        ))),
    }
}

/// Plain-text documents become text (title and context first); anything that would need the
/// upstream to read a PDF or fetch a URL is refused.
fn document_text(d: wire::DocumentBlock, path: &str) -> Result<String, Error> {
    let body = match d.source {
        wire::DocumentSource::Text { data, .. } => data,
        wire::DocumentSource::Content { content } => match content {
            TextOrBlocks::Text(s) => s,
            TextOrBlocks::Items(blocks) => {
                let mut texts = Vec::with_capacity(blocks.len());
                for (i, b) in blocks.into_iter().enumerate() {
                    match b {
                        ContentBlock::Text(t) => texts.push(t.text),
                        other => {
                            return Err(Error::invalid_request(format!(
                                "{path}.source.content.{i}: only text blocks are supported in a \
                                 document's content, not `{}`",
                                block_type(&other)
                            )))
                        }
                    }
                }
                texts.join("\n\n")
            }
        },
        wire::DocumentSource::Base64 { media_type, .. } => {
            return Err(Error::invalid_request(format!(
                "{path}.source: `{media_type}` documents are not supported by this gateway \
                 (its upstream reads text and images only); extract the text and send it as a \
                 text block"
            )))
        }
        wire::DocumentSource::Url { .. }
        | wire::DocumentSource::File { .. }
        | wire::DocumentSource::Unsupported => {
            return Err(Error::invalid_request(format!(
                "{path}.source: only `text` and `content` document sources are supported by \
                 this gateway; send the document's text inline"
            )))
        }
    };
    let parts: Vec<String> = [d.title, d.context, Some(body)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    Ok(parts.join("\n\n"))
}

fn unsupported_block(raw: &serde_json::Value, path: &str) -> Error {
    let ty = raw
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?");
    Error::invalid_request(format!(
        "{path}: content block type `{ty}` is not supported by this gateway; it accepts text, \
         image, document (text), tool_use, tool_result, thinking and redacted_thinking blocks"
    ))
}

fn block_type(b: &ContentBlock) -> &str {
    match b {
        ContentBlock::Text(_) => "text",
        ContentBlock::Image(_) => "image",
        ContentBlock::ToolUse(_) => "tool_use",
        ContentBlock::ToolResult(_) => "tool_result",
        ContentBlock::Thinking(_) => "thinking",
        ContentBlock::RedactedThinking(_) => "redacted_thinking",
        ContentBlock::Document(_) => "document",
        ContentBlock::Other(raw) => raw
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?"),
    }
}

/// Custom tools are kept, `defer_loading: true` ones too (tool search is expanded: the upstream
/// gets every tool up front); server tools (a versioned `type` such as `web_search_20250305` or
/// `tool_search_tool_regex_20251119`, no `input_schema`) are dropped because the upstream cannot
/// run them.
fn tools(wire: Vec<wire::Tool>) -> Result<Vec<Tool>, Error> {
    let mut out = Vec::with_capacity(wire.len());
    for (i, t) in wire.into_iter().enumerate() {
        let custom = matches!(t.kind.as_deref(), None | Some("custom"));
        if !custom {
            continue;
        }
        let Some(name) = t.name.filter(|n| !n.trim().is_empty()) else {
            return Err(Error::invalid_request(format!(
                "tools.{i}.custom.name: Field required"
            )));
        };
        let Some(input_schema) = t.input_schema else {
            return Err(Error::invalid_request(format!(
                "tools.{i}.custom.input_schema: Field required"
            )));
        };
        out.push(Tool {
            name,
            description: t.description.unwrap_or_default(),
            input_schema,
        });
    }
    Ok(out)
}

/// `output_config.effort` is kept apart (`Request::effort`): Anthropic accepts it with any
/// thinking mode. Unknown effort levels are ignored rather than refused: new ones appear with
/// new models.
fn thinking(t: Option<wire::Thinking>) -> Thinking {
    match t {
        None | Some(wire::Thinking::Disabled {}) => Thinking::Disabled,
        Some(wire::Thinking::Enabled { budget_tokens }) => Thinking::Enabled { budget_tokens },
        Some(wire::Thinking::Adaptive {}) => Thinking::Adaptive,
    }
}
