//! The benchmark's requests: a streamed Claude-Code-sized one (system blocks, 12 tools, a long
//! history, about 100 KB), a small non-streaming one, an OpenAI Chat streaming one, and the one
//! that holds a stream open; each with the equivalent Kiro request for the direct call.

use serde_json::{json, Value};

fn filler(words: usize, seed: usize) -> String {
    const W: &[&str] = &[
        "function", "returns", "the", "value", "of", "config", "when", "error", "file", "path",
        "reads", "writes", "struct", "field", "async", "stream", "token", "request",
    ];
    (0..words)
        .map(|i| W[(i * 7 + seed) % W.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn tool(i: usize) -> Value {
    let name = [
        "Bash",
        "Read",
        "Write",
        "Edit",
        "Glob",
        "Grep",
        "WebFetch",
        "TodoWrite",
        "Task",
        "NotebookEdit",
        "WebSearch",
        "ExitPlanMode",
    ][i];
    json!({
        "name": name,
        "description": filler(300, i),
        "input_schema": {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": filler(20, i + 1)},
                "content": {"type": "string", "description": filler(20, i + 2)},
                "limit": {"type": "integer", "description": "how many"}
            },
            "required": ["file_path"],
            "additionalProperties": false,
            "$schema": "http://json-schema.org/draft-07/schema#"
        }
    })
}

/// The Anthropic request body.
pub fn claude_code_request() -> Vec<u8> {
    let mut messages = Vec::new();
    for turn in 0..8 {
        messages.push(
            json!({"role": "user", "content": [{"type": "text", "text": filler(900, turn)}]}),
        );
        messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": filler(300, turn + 3)}]}));
    }
    messages.push(json!({"role": "user", "content": [{"type": "text", "text": "BENCH: summarise the repository layout."}]}));
    let body = json!({
        "model": "claude-opus-5-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": filler(2500, 9), "cache_control": {"type": "ephemeral"}}
        ],
        "tools": (0..12).map(tool).collect::<Vec<_>>(),
        "messages": messages,
        "metadata": {"user_id": "bench"},
        "thinking": {"type": "disabled"}
    });
    body.to_string().into_bytes()
}

/// The model name the Bedrock scenario sends; the bench's config file routes it (and only it)
/// to the Bedrock upstream, which maps it to [`BEDROCK_MODEL_ID`].
pub const BEDROCK_CLIENT_MODEL: &str = "bench-bedrock-opus";
pub const BEDROCK_MODEL_ID: &str = "us.anthropic.claude-opus-5-5";

/// The streamed Claude-Code-sized request under the Bedrock-routed model name.
pub fn bedrock_client_request() -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&claude_code_request()).unwrap_or(Value::Null);
    v["model"] = Value::from(BEDROCK_CLIENT_MODEL);
    v.to_string().into_bytes()
}

/// The InvokeModel body conduit sends for `client_body`: without `model` and `stream` (the path
/// and the endpoint carry them), with Bedrock's `anthropic_version`.
pub fn invoke_model_body(client_body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut v: serde_json::Map<String, Value> = serde_json::from_slice(client_body)?;
    v.remove("model");
    v.remove("stream");
    v.insert(
        "anthropic_version".into(),
        Value::from("bedrock-2023-05-31"),
    );
    Ok(Value::Object(v).to_string().into_bytes())
}

/// A small, non-streaming Anthropic request (answered by the `SMALL` rule).
pub fn small_request() -> Vec<u8> {
    serde_json::json!({
        "model": "claude-opus-5-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "SMALL: say hello."}]
    })
    .to_string()
    .into_bytes()
}

/// A small streamed Anthropic request the `HOLD` rule keeps open after its first event.
pub fn hold_request() -> Vec<u8> {
    serde_json::json!({
        "model": "claude-opus-5-5",
        "max_tokens": 256,
        "stream": true,
        "messages": [{"role": "user", "content": "HOLD: wait with me."}]
    })
    .to_string()
    .into_bytes()
}

/// An OpenAI Chat Completions streaming request: system prompt, four tools, a short history
/// (about 25 KB), answered with the same 200 events as the streamed Anthropic one.
pub fn openai_chat_request() -> Vec<u8> {
    let tools: Vec<Value> = (0..4)
        .map(|i| {
            let t = tool(i);
            json!({"type": "function", "function": {"name": t["name"], "description": t["description"],
                "parameters": t["input_schema"]}})
        })
        .collect();
    let mut messages = vec![json!({"role": "system", "content": filler(1200, 9)})];
    for turn in 0..3 {
        messages.push(json!({"role": "user", "content": filler(600, turn)}));
        messages.push(json!({"role": "assistant", "content": filler(200, turn + 3)}));
    }
    messages.push(json!({"role": "user", "content": "BENCH: summarise the repository layout."}));
    json!({
        "model": "claude-opus-5-5",
        "stream": true,
        "max_tokens": 32000,
        "messages": messages,
        "tools": tools,
    })
    .to_string()
    .into_bytes()
}

/// The Kiro request conduit sends for an OpenAI Chat body, for the direct call.
pub fn kiro_request_from_openai(body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let request = conduit_openai::chat::decode_request(body).map_err(|e| anyhow::anyhow!("{e}"))?;
    kiro_body(&request)
}

/// The same conversation as the Kiro request conduit would send, for the direct call.
pub fn kiro_request(anthropic_body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let request = conduit_anthropic::decode_request(
        anthropic_body,
        &conduit_anthropic::RequestHeaders { session_id: None },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    kiro_body(&request)
}

fn kiro_body(request: &conduit_core::Request) -> anyhow::Result<Vec<u8>> {
    let model = conduit_kiro::models::resolve_model(
        &request.model,
        &Default::default(),
        &conduit_kiro::models::ModelList::fallback(),
    );
    let opts = conduit_kiro::convert::EncodeOptions {
        model_id: model.kiro_id,
        model_schema: None,
        profile_arn: Some("arn:aws:codewhisperer:us-east-1:123456789012:profile/BENCH".into()),
        conversation_id: uuid::Uuid::new_v4().to_string(),
        tool_description_max: 10_000,
        max_payload_bytes: 600_000,
    };
    let kiro = conduit_kiro::convert::encode_request(request, &opts)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::to_vec(&kiro)?)
}
