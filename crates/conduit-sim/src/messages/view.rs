//! What the rule engine and the history checks see of a Messages request.

use std::collections::HashSet;

use serde_json::Value;

use crate::reasoning;
use crate::validate::ChatView;

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    }
}

fn tool_result_text(block: &Value) -> String {
    match block.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The rule view: the text of the last user message, its tool results, and the model.
pub(crate) fn chat_view(body: &Value, model: &str) -> ChatView {
    let mut view = ChatView {
        model: Some(model.to_owned()),
        ..ChatView::default()
    };
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        });
    let Some(user) = last_user else {
        return view;
    };
    let mut texts = Vec::new();
    for b in blocks(user.get("content").unwrap_or(&Value::Null)) {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(
                b.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
            Some("tool_result") => {
                view.has_tool_results = true;
                view.tool_result_texts.push(tool_result_text(&b));
            }
            _ => {}
        }
    }
    view.content = texts.join("\n");
    view
}

/// Whether the request asks for extended thinking (`thinking.type` enabled or adaptive).
pub(crate) fn thinking_requested(body: &Value) -> bool {
    matches!(
        body.get("thinking")
            .and_then(|t| t.get("type"))
            .and_then(Value::as_str),
        Some("enabled" | "adaptive")
    )
}

/// Check replayed assistant thinking: a `thinking` block's signature must be one the sim issued
/// for its text, a `redacted_thinking` block's data one the sim sent. Returns the message of the
/// first failure ("messages.{i}.content.{j}: Invalid `signature` in `thinking` block").
pub(crate) fn check_signatures(
    body: &Value,
    key: &[u8; 32],
    issued_redacted: &HashSet<String>,
) -> Result<(), String> {
    let messages = body.get("messages").and_then(Value::as_array);
    for (i, m) in messages.into_iter().flatten().enumerate() {
        if m.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(content) = m.get("content").and_then(Value::as_array) else {
            continue;
        };
        for (j, b) in content.iter().enumerate() {
            let ok = match b.get("type").and_then(Value::as_str) {
                Some("thinking") => {
                    let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
                    let sig = b.get("signature").and_then(Value::as_str).unwrap_or("");
                    reasoning::verify(key, text, sig)
                }
                Some("redacted_thinking") => b
                    .get("data")
                    .and_then(Value::as_str)
                    .is_some_and(|d| issued_redacted.contains(d)),
                _ => true,
            };
            if !ok {
                let kind = b.get("type").and_then(Value::as_str).unwrap_or("thinking");
                return Err(format!(
                    "messages.{i}.content.{j}: Invalid `signature` in `{kind}` block"
                ));
            }
        }
    }
    Ok(())
}
