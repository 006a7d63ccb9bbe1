//! AWS event-stream frames as Kiro sends them (spec §4.1, §4.2), encoded by `aws-smithy-eventstream`.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::{json, Value};

/// A frame could not be encoded (a header or payload beyond the format's limits).
#[derive(Debug)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot encode event-stream frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

fn encode(message: &Message) -> Result<Bytes, FrameError> {
    let mut buf = Vec::new();
    write_message_to(message, &mut buf).map_err(|e| FrameError(e.to_string()))?;
    Ok(Bytes::from(buf))
}

/// Serialise a payload with its object keys in alphabetical order, whatever `serde_json`'s
/// map ordering feature is: proxies that scan raw bytes rely on the first key (spec §4.1).
fn sorted_json(value: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    if let Some(inner) = m.get(k) {
                        out.insert(k.clone(), sort(inner));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// An event frame: headers `:event-type`, `:content-type`, `:message-type` in the observed order.
pub fn event(event_type: &str, payload: &Value) -> Result<Bytes, FrameError> {
    let message = Message::new_from_parts(
        vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        sorted_json(payload).into_bytes(),
    );
    encode(&message)
}

/// An exception frame (`:message-type: exception`), payload `{"message": ...}`.
pub fn exception(exception_type: &str, message: &str) -> Result<Bytes, FrameError> {
    let msg = Message::new_from_parts(
        vec![
            string_header(":exception-type", exception_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        sorted_json(&json!({ "message": message })).into_bytes(),
    );
    encode(&msg)
}

/// `assistantResponseEvent {"content": text}`.
pub fn text(content: &str) -> Result<Bytes, FrameError> {
    event("assistantResponseEvent", &json!({ "content": content }))
}

/// `meteringEvent {"unit":"credit","unitPlural":"credits","usage":x}`.
pub fn metering(usage: f64) -> Result<Bytes, FrameError> {
    event(
        "meteringEvent",
        &json!({"unit": "credit", "unitPlural": "credits", "usage": usage}),
    )
}

/// `contextUsageEvent {"contextUsagePercentage": pct}`.
pub fn context_usage(pct: f64) -> Result<Bytes, FrameError> {
    event(
        "contextUsageEvent",
        &json!({ "contextUsagePercentage": pct }),
    )
}

/// `metadataEvent {"tokenUsage": {...}}` with the sim's own counts (no prompt cache).
pub fn token_usage(input: u64, output: u64) -> Result<Bytes, FrameError> {
    event(
        "metadataEvent",
        &json!({"tokenUsage": {
            "cacheReadInputTokens": 0,
            "cacheWriteInputTokens": 0,
            "outputTokens": output,
            "uncachedInputTokens": input
        }}),
    )
}
