//! Messages events as Server-Sent Events, with `ping`s after message_start and during long
//! silences, and error events for mid-stream exceptions.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::messages::reply::Item;
use crate::rules::Action;

fn frame(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn ping() -> Bytes {
    frame("ping", &json!({"type": "ping"}))
}

/// The Anthropic error type of a ResponseStream-style exception name.
pub(crate) fn error_type(kind: &str) -> (u16, &'static str) {
    match kind {
        "throttlingException" | "rate_limit_error" => (429, "rate_limit_error"),
        "serviceUnavailableException" | "overloaded_error" => (529, "overloaded_error"),
        "validationException" | "invalid_request_error" => (400, "invalid_request_error"),
        _ => (500, "api_error"),
    }
}

/// The body plan of a streamed reply.
pub(crate) fn actions(items: &[Item], ping_every: Duration) -> Vec<Action> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Event(ev) => {
                let t = ev.get("type").and_then(Value::as_str).unwrap_or("event");
                out.push(Action::Frame(frame(t, ev)));
                if t == "message_start" {
                    out.push(Action::Frame(ping()));
                }
            }
            Item::Delay(d) => {
                let mut left = *d;
                while !ping_every.is_zero() && left > ping_every {
                    out.push(Action::Delay(ping_every));
                    out.push(Action::Frame(ping()));
                    left -= ping_every;
                }
                out.push(Action::Delay(left));
            }
            Item::Exception { kind, message } => {
                let (_, t) = error_type(kind);
                out.push(Action::Frame(frame(
                    "error",
                    &json!({"type": "error", "error": {"type": t, "message": message}}),
                )));
                return out;
            }
            Item::Cut => {
                out.push(Action::Cut);
                return out;
            }
        }
    }
    out
}
