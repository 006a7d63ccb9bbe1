//! A planned event sequence folded into the non-streaming Messages response.

use serde_json::{json, Value};

use super::reply::Item;

/// How a non-streaming reply ended when it did not produce a message.
#[derive(Debug, Clone)]
pub(crate) enum Broken {
    Exception { kind: String, message: String },
    Cut,
}

fn apply_delta(block: &mut Value, delta: &Value) {
    let append = |block: &mut Value, field: &str, piece: Option<&str>| {
        let mut s = block
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        s.push_str(piece.unwrap_or(""));
        block[field] = Value::String(s);
    };
    let piece = |k: &str| delta.get(k).and_then(Value::as_str);
    match delta.get("type").and_then(Value::as_str) {
        Some("text_delta") => append(block, "text", piece("text")),
        Some("thinking_delta") => append(block, "thinking", piece("thinking")),
        Some("signature_delta") => append(block, "signature", piece("signature")),
        Some("input_json_delta") => append(block, "_partial", piece("partial_json")),
        _ => {}
    }
}

/// The message JSON (`id`, `type`, `role`, `model`, `content`, `stop_reason`, `usage`).
pub(crate) fn message(items: &[Item]) -> Result<Value, Broken> {
    let mut msg = json!({});
    let mut content: Vec<Value> = Vec::new();
    for item in items {
        let ev = match item {
            Item::Event(ev) => ev,
            Item::Delay(_) => continue,
            Item::Cut => return Err(Broken::Cut),
            Item::Exception { kind, message } => {
                return Err(Broken::Exception {
                    kind: kind.clone(),
                    message: message.clone(),
                })
            }
        };
        match ev.get("type").and_then(Value::as_str) {
            Some("message_start") => msg = ev.get("message").cloned().unwrap_or_default(),
            Some("content_block_start") => {
                content.push(ev.get("content_block").cloned().unwrap_or_default());
            }
            Some("content_block_delta") => {
                if let (Some(block), Some(delta)) = (content.last_mut(), ev.get("delta")) {
                    apply_delta(block, delta);
                }
            }
            Some("content_block_stop") => {
                if let Some(Value::Object(block)) = content.last_mut() {
                    if let Some(Value::String(partial)) = block.remove("_partial") {
                        let input = serde_json::from_str(&partial).unwrap_or_else(|_| json!({}));
                        block.insert("input".to_owned(), input);
                    }
                }
            }
            Some("message_delta") => {
                if let Some(d) = ev.get("delta") {
                    msg["stop_reason"] = d.get("stop_reason").cloned().unwrap_or_default();
                    msg["stop_sequence"] = d.get("stop_sequence").cloned().unwrap_or_default();
                }
                // Cumulative usage: each field it carries is the final value.
                if let Some(Value::Object(usage)) = ev.get("usage") {
                    for (k, v) in usage {
                        msg["usage"][k] = v.clone();
                    }
                }
            }
            _ => {}
        }
    }
    msg["content"] = Value::Array(content);
    Ok(msg)
}
