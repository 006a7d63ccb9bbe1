//! Canonical [`Request`] → an Anthropic Messages request body (`POST /v1/messages`).

use conduit_core::{Block, Image, Message, Request, Role, Thinking, ToolChoice, ToolResultContent};
use serde_json::{json, Map, Value};

/// `max_tokens` when the client named none (OpenAI clients may omit it; Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 32_000;

/// The Messages JSON for `request`, addressed to `model_id` (the upstream's own id). `stream`
/// is written as the request has it; an upstream that always streams sets it itself.
///
/// Thinking blocks without a signature (reasoning the upstream never signed) are left out:
/// Anthropic refuses an unsigned thinking block, and the model does not need its own old
/// reasoning to continue.
pub fn encode_request(request: &Request, model_id: &str) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model_id));
    body.insert("max_tokens".into(), json!(max_tokens(request)));
    if !request.system.is_empty() {
        let system: Vec<Value> = request
            .system
            .iter()
            .map(|text| json!({"type": "text", "text": text}))
            .collect();
        body.insert("system".into(), Value::Array(system));
    }
    let messages: Vec<Value> = request.messages.iter().filter_map(message).collect();
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &request.tool_choice {
            body.insert("tool_choice".into(), tool_choice(choice));
        }
    }
    match request.thinking {
        Thinking::Disabled => {}
        Thinking::Enabled { budget_tokens } => {
            body.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget_tokens}),
            );
        }
        Thinking::Adaptive => {
            body.insert("thinking".into(), json!({"type": "adaptive"}));
        }
    }
    if let Some(effort) = request.effort {
        body.insert("output_config".into(), json!({"effort": effort.as_str()}));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !request.stop_sequences.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop_sequences));
    }
    if let Some(user_id) = &request.meta.user_id {
        body.insert("metadata".into(), json!({"user_id": user_id}));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    Value::Object(body)
}

/// The client's `max_tokens`, or the default raised above a thinking budget (Anthropic wants
/// `budget_tokens < max_tokens`).
fn max_tokens(request: &Request) -> u32 {
    match (request.max_tokens, request.thinking) {
        (Some(m), _) => m,
        (None, Thinking::Enabled { budget_tokens }) if budget_tokens >= DEFAULT_MAX_TOKENS => {
            budget_tokens.saturating_add(8_192)
        }
        (None, _) => DEFAULT_MAX_TOKENS,
    }
}

fn message(m: &Message) -> Option<Value> {
    let content: Vec<Value> = m.content.iter().filter_map(block).collect();
    if content.is_empty() {
        return None;
    }
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    Some(json!({"role": role, "content": content}))
}

fn block(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(text) => json!({"type": "text", "text": text}),
        Block::Image(img) => image(img),
        Block::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let content: Vec<Value> = content
                .iter()
                .map(|c| match c {
                    ToolResultContent::Text(text) => json!({"type": "text", "text": text}),
                    ToolResultContent::Image(img) => image(img),
                })
                .collect();
            let mut v =
                json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content});
            if *is_error {
                v["is_error"] = json!(true);
            }
            v
        }
        Block::Thinking {
            text,
            signature: Some(signature),
        } => json!({"type": "thinking", "thinking": text, "signature": signature}),
        Block::Thinking {
            signature: None, ..
        } => return None,
        Block::RedactedThinking { data } => json!({"type": "redacted_thinking", "data": data}),
    })
}

fn image(img: &Image) -> Value {
    json!({"type": "image", "source": {"type": "base64", "media_type": img.media_type, "data": img.data}})
}

fn tool_choice(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::Any => json!({"type": "any"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Tool { name } => json!({"type": "tool", "name": name}),
    }
}
