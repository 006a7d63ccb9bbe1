//! Relaying the Messages lane to an Anthropic client: the upstream's own events as they came
//! (`event: {name}` / `data: {data}`), each written as soon as it is ready, gateway `ping`s
//! while the upstream is silent (Bedrock sends none), usage read from `message_start` /
//! `message_delta` for the access log, and an error inside the stream rendered as an Anthropic
//! `error` event. A whole JSON reply passes through as it is.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use conduit_core::{Error, ErrorKind, RawEvent, RawEventStream, Usage};
use futures::StreamExt;
use serde_json::Value;

use crate::logging::RequestRecord;
use crate::relay::{batched, Absorb};
use crate::routes::turn::{json_response, sse_response};

/// The `ping` conduit writes during silences, as Anthropic writes it.
const PING: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

/// One event in SSE framing.
pub fn sse_event(out: &mut BytesMut, name: &str, data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// An error as an Anthropic `error` event: the upstream's own envelope when it wrote one in
/// this dialect, else conduit's rendering of the error.
pub fn error_event(out: &mut BytesMut, error: &Error) {
    match error.raw.as_deref().filter(|r| r.dialect == "anthropic") {
        Some(raw) => sse_event(out, "error", &raw.body),
        None => {
            let mut encoder = conduit_anthropic::SseEncoder::new();
            out.extend_from_slice(&encoder.error(error));
        }
    }
}

/// Usage as the upstream reported it: the last value of each field across `message_start`'s
/// `message.usage` and `message_delta`'s `usage` (never summed).
#[derive(Default)]
struct UsageTracker {
    usage: Usage,
    seen: bool,
}

impl UsageTracker {
    fn absorb(&mut self, name: &str, data: &[u8]) {
        let usage = match name {
            "message_start" | "message_delta" => match serde_json::from_slice::<Value>(data) {
                Ok(v) if name == "message_start" => v["message"]["usage"].clone(),
                Ok(v) => v["usage"].clone(),
                Err(_) => return,
            },
            _ => return,
        };
        self.apply(&usage);
    }

    fn apply(&mut self, usage: &Value) {
        let field = |k: &str| {
            usage
                .get(k)
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let u = &mut self.usage;
        for (key, slot) in [
            ("input_tokens", &mut u.input_tokens),
            ("output_tokens", &mut u.output_tokens),
            ("cache_read_input_tokens", &mut u.cache_read_input_tokens),
            (
                "cache_creation_input_tokens",
                &mut u.cache_creation_input_tokens,
            ),
        ] {
            if let Some(n) = field(key) {
                *slot = n;
                self.seen = true;
            }
        }
    }
}

struct Relay {
    record: RequestRecord,
    usage: UsageTracker,
    ended: bool,
}

impl Absorb for Relay {
    type Item = Result<RawEvent, Error>;

    fn absorb(&mut self, item: Option<Result<RawEvent, Error>>, out: &mut BytesMut) -> bool {
        match item {
            Some(Ok(event)) => {
                self.record.first_byte();
                self.usage.absorb(&event.name, &event.data);
                if event.name == "message_stop" {
                    self.ended = true;
                    if self.usage.seen {
                        self.record.set_usage(self.usage.usage);
                    }
                }
                sse_event(out, &event.name, &event.data);
                event.name != "error"
            }
            Some(Err(error)) => {
                self.record.fail(200, &error);
                error_event(out, &error);
                false
            }
            None => {
                if !self.ended {
                    let error = Error::new(
                        ErrorKind::UpstreamProtocol,
                        "the upstream stream ended before the message was complete",
                    );
                    self.record.fail(200, &error);
                    error_event(out, &error);
                }
                false
            }
        }
    }

    fn ping(&mut self) -> Bytes {
        Bytes::from_static(PING)
    }

    fn finish(mut self) -> Bytes {
        self.record.set_status(200);
        self.record.finish();
        Bytes::new()
    }
}

/// Hold the upstream's events until its first content (or its end), so that an exception it
/// raises before any content reaches the client as an HTTP error with its real status — which
/// clients retry — rather than as a 200 whose stream then fails.
pub async fn until_content(mut stream: RawEventStream) -> Result<RawEventStream, Error> {
    let mut held = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(event)) if matches!(event.name.as_str(), "message_start" | "ping") => {
                held.push(Ok(event));
            }
            Some(Ok(event)) => {
                held.push(Ok(event));
                break;
            }
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    Ok(Box::pin(futures::stream::iter(held).chain(stream)))
}

/// The SSE response for a Messages-lane stream. Dropping the body (client gone) drops the
/// upstream stream, which cancels the upstream call.
pub fn sse(stream: RawEventStream, ping: Duration, record: RequestRecord) -> Response {
    let relay = Relay {
        record,
        usage: UsageTracker::default(),
        ended: false,
    };
    sse_response(Body::from_stream(batched(stream, relay, ping)))
}

/// A whole Messages JSON reply, passed through; its usage goes to the log.
pub fn json(body: Bytes, mut record: RequestRecord) -> Response {
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        let mut usage = UsageTracker::default();
        usage.apply(&v["usage"]);
        if usage.seen {
            record.set_usage(usage.usage);
        }
    }
    record.first_byte();
    record.set_status(200);
    record.finish();
    json_response(StatusCode::OK, body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_the_last_value_of_each_field() {
        let mut u = UsageTracker::default();
        u.absorb(
            "message_start",
            br#"{"type":"message_start","message":{"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":1200,"output_tokens":1}}}"#,
        );
        u.absorb("content_block_delta", br#"{"usage":{"output_tokens":99}}"#);
        u.absorb(
            "message_delta",
            br#"{"type":"message_delta","usage":{"output_tokens":42}}"#,
        );
        assert!(u.seen);
        assert_eq!(
            (
                u.usage.input_tokens,
                u.usage.output_tokens,
                u.usage.cache_read_input_tokens,
                u.usage.cache_creation_input_tokens
            ),
            (7, 42, 1200, 0)
        );
    }

    #[test]
    fn an_anthropic_error_passes_through_in_the_stream() {
        let raw = conduit_core::RawError {
            dialect: "anthropic",
            status: 529,
            body: Bytes::from_static(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
        };
        let e = Error::new(ErrorKind::Overloaded, "x").with_raw(raw);
        let mut out = BytesMut::new();
        error_event(&mut out, &e);
        assert_eq!(
            &out[..],
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        );
        let mut out = BytesMut::new();
        error_event(&mut out, &Error::new(ErrorKind::Overloaded, "busy"));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            text.starts_with("event: error\n") && text.contains("busy"),
            "{text}"
        );
    }
}
