//! Relaying a canonical event stream to a client as SSE: each event encoded by the dialect and
//! flushed as soon as it is ready, `ping`s while the upstream is silent, errors as in-stream
//! error events, and the request's log line written when the stream ends or the client leaves.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use conduit_core::{Error, ErrorKind, Event, EventStream};
use futures::{FutureExt, StreamExt};

use crate::logging::RequestRecord;

/// How one dialect renders a stream.
pub trait SseDialect: Send + 'static {
    fn event(&mut self, event: &Event) -> Bytes;
    fn error(&mut self, error: &Error) -> Bytes;
    /// Bytes after the last event, if the dialect has a terminator (OpenAI's `[DONE]`).
    fn done(&mut self) -> Bytes {
        Bytes::new()
    }
}

impl SseDialect for conduit_anthropic::SseEncoder {
    fn event(&mut self, event: &Event) -> Bytes {
        self.encode(event)
    }
    fn error(&mut self, error: &Error) -> Bytes {
        conduit_anthropic::SseEncoder::error(self, error)
    }
}

impl SseDialect for conduit_openai::chat::ChatSseEncoder {
    fn event(&mut self, event: &Event) -> Bytes {
        self.encode(event)
    }
    fn error(&mut self, error: &Error) -> Bytes {
        conduit_openai::chat::ChatSseEncoder::error(self, error)
    }
    fn done(&mut self) -> Bytes {
        conduit_openai::chat::ChatSseEncoder::done(self)
    }
}

impl SseDialect for conduit_openai::responses::ResponsesSseEncoder {
    fn event(&mut self, event: &Event) -> Bytes {
        self.encode(event)
    }
    fn error(&mut self, error: &Error) -> Bytes {
        conduit_openai::responses::ResponsesSseEncoder::error(self, error)
    }
    fn done(&mut self) -> Bytes {
        conduit_openai::responses::ResponsesSseEncoder::done(self)
    }
}

/// Largest batch of ready events written as one chunk.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Encodes stream items and keeps the request's record; says when the stream is over.
struct Relay<D> {
    dialect: D,
    record: RequestRecord,
    ended: bool,
}

impl<D: SseDialect> Relay<D> {
    /// Append what `item` renders to `out`; `false` once nothing more may follow.
    fn absorb(&mut self, item: Option<Result<Event, Error>>, out: &mut BytesMut) -> bool {
        match item {
            Some(Ok(event)) => {
                self.record.first_byte();
                if let Event::MessageEnd { usage, .. } = &event {
                    self.record.set_usage(*usage);
                    self.ended = true;
                }
                out.extend_from_slice(&self.dialect.event(&event));
                true
            }
            Some(Err(error)) => {
                self.record.fail(200, &error);
                out.extend_from_slice(&self.dialect.error(&error));
                false
            }
            None => {
                if !self.ended {
                    let error = Error::new(
                        ErrorKind::UpstreamProtocol,
                        "the upstream stream ended before the message was complete",
                    );
                    self.record.fail(200, &error);
                    out.extend_from_slice(&self.dialect.error(&error));
                }
                false
            }
        }
    }
}

/// The SSE body for `stream`. Every event is written as soon as it is ready; events that are
/// ready at the same moment (one upstream read often carries many frames) go out in one write,
/// which saves a syscall and a TCP segment per event and delays none. Dropping the body (client
/// gone) drops the upstream stream, which cancels the upstream call.
pub fn sse_body<D: SseDialect>(
    mut stream: EventStream,
    dialect: D,
    ping: Duration,
    record: RequestRecord,
) -> Body {
    let body = async_stream::stream! {
        let mut relay = Relay { dialect, record, ended: false };
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
        loop {
            tokio::select! {
                biased;
                item = stream.next() => {
                    let mut out = BytesMut::new();
                    let mut more = relay.absorb(item, &mut out);
                    while more && out.len() < MAX_BATCH_BYTES {
                        match stream.next().now_or_never() {
                            Some(item) => more = relay.absorb(item, &mut out),
                            None => break,
                        }
                    }
                    ticker.reset();
                    if !out.is_empty() {
                        yield Ok::<Bytes, std::convert::Infallible>(out.freeze());
                    }
                    if !more {
                        break;
                    }
                },
                _ = ticker.tick() => {
                    let bytes = relay.dialect.event(&Event::Ping);
                    if !bytes.is_empty() {
                        yield Ok(bytes);
                    }
                }
            }
        }
        let tail = relay.dialect.done();
        if !tail.is_empty() {
            yield Ok(tail);
        }
        relay.record.set_status(200);
        relay.record.finish();
    };
    Body::from_stream(body)
}
