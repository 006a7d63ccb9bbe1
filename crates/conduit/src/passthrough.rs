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
use conduit_anthropic::upstream::WireUsage;
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

/// Usage as the upstream reported it: the last value of each field (input, cache read, cache
/// creation and its TTL split, output) across `message_start`'s `message.usage` and
/// `message_delta`'s cumulative `usage` (never summed).
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
        if let Some(wire) = WireUsage::from_value(usage) {
            self.seen |= wire.apply(&mut self.usage);
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
pub fn sse(stream: RawEventStream, ping: Duration, mut record: RequestRecord) -> Response {
    record.streaming();
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

    fn split(m5: u32, h1: u32) -> Option<conduit_core::CacheCreation> {
        Some(conduit_core::CacheCreation {
            ephemeral_5m_input_tokens: m5,
            ephemeral_1h_input_tokens: h1,
        })
    }

    /// Name, `(event, data)` in order, the usage tracked (`None`: none seen).
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Option<Usage>,
    );

    const START: &str = r#"{"type":"message_start","message":{"usage":{"input_tokens":7,"cache_creation_input_tokens":1500,"cache_read_input_tokens":1200,"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":1200},"output_tokens":1}}}"#;

    /// Each field takes its last reported value across the events; nothing is summed.
    #[test]
    fn usage_is_the_last_value_of_each_field() {
        let full = Usage {
            input_tokens: 7,
            output_tokens: 1,
            cache_read_input_tokens: 1200,
            cache_creation_input_tokens: 1500,
            cache_creation: split(300, 1200),
            ..Usage::default()
        };
        let cases: Vec<Case> = vec![
            (
                "message_delta carries only output_tokens",
                vec![
                    ("message_start", START),
                    ("content_block_delta", r#"{"usage":{"output_tokens":99}}"#),
                    (
                        "message_delta",
                        r#"{"type":"message_delta","usage":{"output_tokens":42}}"#,
                    ),
                ],
                Some(Usage {
                    output_tokens: 42,
                    ..full
                }),
            ),
            (
                "message_delta repeats every field (cumulative)",
                vec![
                    ("message_start", START),
                    (
                        "message_delta",
                        r#"{"type":"message_delta","usage":{"input_tokens":7,"cache_creation_input_tokens":1500,"cache_read_input_tokens":1200,"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":1200},"output_tokens":42}}"#,
                    ),
                ],
                Some(Usage {
                    output_tokens: 42,
                    ..full
                }),
            ),
            (
                "message_delta updates input, cache and split fields",
                vec![
                    ("message_start", START),
                    (
                        "message_delta",
                        r#"{"type":"message_delta","usage":{"input_tokens":9,"cache_creation_input_tokens":1600,"cache_read_input_tokens":1100,"cache_creation":{"ephemeral_5m_input_tokens":400},"output_tokens":42}}"#,
                    ),
                ],
                Some(Usage {
                    input_tokens: 9,
                    output_tokens: 42,
                    cache_read_input_tokens: 1100,
                    cache_creation_input_tokens: 1600,
                    cache_creation: split(400, 1200),
                    ..Usage::default()
                }),
            ),
            (
                "two message_deltas: the later wins",
                vec![
                    ("message_start", START),
                    ("message_delta", r#"{"usage":{"output_tokens":20}}"#),
                    (
                        "message_delta",
                        r#"{"usage":{"output_tokens":42,"input_tokens":8}}"#,
                    ),
                ],
                Some(Usage {
                    input_tokens: 8,
                    output_tokens: 42,
                    ..full
                }),
            ),
            (
                "no split reported (Bedrock-style usage without cache_creation)",
                vec![
                    (
                        "message_start",
                        r#"{"message":{"usage":{"input_tokens":7,"cache_creation_input_tokens":20,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
                    ),
                    ("message_delta", r#"{"usage":{"output_tokens":5}}"#),
                ],
                Some(Usage {
                    input_tokens: 7,
                    output_tokens: 5,
                    cache_creation_input_tokens: 20,
                    ..Usage::default()
                }),
            ),
            (
                "no usage at all",
                vec![
                    ("message_start", r#"{"message":{}}"#),
                    ("message_delta", r#"{"delta":{"stop_reason":"end_turn"}}"#),
                    ("message_delta", "not json"),
                ],
                None,
            ),
        ];
        for (name, events, want) in cases {
            let mut u = UsageTracker::default();
            for (event, data) in events {
                u.absorb(event, data.as_bytes());
            }
            assert_eq!(u.seen.then_some(u.usage), want, "{name}");
        }
    }

    #[test]
    fn a_json_body_usage_keeps_the_split() {
        let body: Value = serde_json::from_str(
            r#"{"type":"message","usage":{"input_tokens":3,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"cache_creation":{"ephemeral_5m_input_tokens":8,"ephemeral_1h_input_tokens":12},"output_tokens":9}}"#,
        )
        .unwrap();
        let mut u = UsageTracker::default();
        u.apply(&body["usage"]);
        assert!(u.seen);
        assert_eq!(u.usage.cache_writes(), (8, 12));
        assert_eq!(u.usage.total_input_tokens(), 53);
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
