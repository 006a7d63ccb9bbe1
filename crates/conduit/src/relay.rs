//! Relaying a canonical event stream to a client as SSE: each event encoded by the dialect and
//! flushed as soon as it is ready, `ping`s while the upstream is silent, errors as in-stream
//! error events, and the request's log line written when the stream ends or the client leaves.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use conduit_core::{Error, ErrorKind, Event, EventStream};
use futures::StreamExt;

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

/// The SSE body for `stream`. Dropping the body (client gone) drops the upstream stream, which
/// cancels the upstream call.
pub fn sse_body<D: SseDialect>(
    mut stream: EventStream,
    mut dialect: D,
    ping: Duration,
    mut record: RequestRecord,
) -> Body {
    let body = async_stream::stream! {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
        let mut ended = false;
        loop {
            tokio::select! {
                biased;
                item = stream.next() => match item {
                    Some(Ok(event)) => {
                        record.first_byte();
                        if let Event::MessageEnd { usage, .. } = &event {
                            record.set_usage(*usage);
                            ended = true;
                        }
                        ticker.reset();
                        let bytes = dialect.event(&event);
                        if !bytes.is_empty() {
                            yield Ok::<Bytes, std::convert::Infallible>(bytes);
                        }
                    }
                    Some(Err(error)) => {
                        record.fail(200, &error);
                        yield Ok(dialect.error(&error));
                        break;
                    }
                    None => {
                        if !ended {
                            let error = Error::new(
                                ErrorKind::UpstreamProtocol,
                                "the upstream stream ended before the message was complete",
                            );
                            record.fail(200, &error);
                            yield Ok(dialect.error(&error));
                        }
                        break;
                    }
                },
                _ = ticker.tick() => {
                    let bytes = dialect.event(&Event::Ping);
                    if !bytes.is_empty() {
                        yield Ok(bytes);
                    }
                }
            }
        }
        let tail = dialect.done();
        if !tail.is_empty() {
            yield Ok(tail);
        }
        record.set_status(200);
        record.finish();
    };
    Body::from_stream(body)
}
