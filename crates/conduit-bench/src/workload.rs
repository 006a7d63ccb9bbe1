//! The benchmark's request: shaped like what Claude Code sends (system blocks, 12 tools, a long
//! history), about 100 KB, streaming.

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

/// The same conversation as the Kiro request conduit would send, for the direct call.
pub fn kiro_request(anthropic_body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let request = conduit_anthropic::decode_request(
        anthropic_body,
        &conduit_anthropic::RequestHeaders { session_id: None },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = conduit_kiro::models::resolve_model(&request.model, &Default::default());
    let opts = conduit_kiro::convert::EncodeOptions {
        model_id: model.kiro_id,
        profile_arn: Some("arn:aws:codewhisperer:us-east-1:123456789012:profile/BENCH".into()),
        conversation_id: uuid::Uuid::new_v4().to_string(),
        tool_description_max: 10_000,
        max_payload_bytes: 600_000,
    };
    let kiro = conduit_kiro::convert::encode_request(&request, &opts)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(serde_json::to_vec(&kiro)?)
}
