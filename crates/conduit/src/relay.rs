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
    /// Appends what `event` renders to `out` (the batch being written).
    fn event(&mut self, event: &Event, out: &mut BytesMut);
    fn error(&mut self, error: &Error) -> Bytes;
    /// Bytes after the last event, if the dialect has a terminator (OpenAI's `[DONE]`).
    fn done(&mut self) -> Bytes {
        Bytes::new()
    }
}

impl SseDialect for conduit_anthropic::SseEncoder {
    fn event(&mut self, event: &Event, out: &mut BytesMut) {
        self.encode_into(event, out);
    }
    fn error(&mut self, error: &Error) -> Bytes {
        conduit_anthropic::SseEncoder::error(self, error)
    }
}

impl SseDialect for conduit_openai::chat::ChatSseEncoder {
    fn event(&mut self, event: &Event, out: &mut BytesMut) {
        out.extend_from_slice(&self.encode(event));
    }
    fn error(&mut self, error: &Error) -> Bytes {
        conduit_openai::chat::ChatSseEncoder::error(self, error)
    }
    fn done(&mut self) -> Bytes {
        conduit_openai::chat::ChatSseEncoder::done(self)
    }
}

impl SseDialect for conduit_openai::responses::ResponsesSseEncoder {
    fn event(&mut self, event: &Event, out: &mut BytesMut) {
        out.extend_from_slice(&self.encode(event));
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
/// Scheduler rounds given to the upstream's connection task before a batch is written (see
/// [`batched`]; measured: one round passes no chunk, two pass one).
const YIELDS_BEFORE_WRITE: u32 = 2;

/// What a relay does with each item of the upstream's stream: render it, and say when the
/// stream is over. The canonical relay here and the Messages lane's (`passthrough`) share
/// [`batched`], the one write loop.
pub trait Absorb: Send + 'static {
    type Item: Send + 'static;
    /// Append what `item` renders to `out`; `false` once nothing more may follow.
    fn absorb(&mut self, item: Option<Self::Item>, out: &mut BytesMut) -> bool;
    /// What to write during a silence (empty: nothing).
    fn ping(&mut self) -> Bytes;
    /// The bytes after the last event; the request's log line is written here.
    fn finish(self) -> Bytes;
}

/// Every item is written as soon as it is ready; items that are ready at the same moment (one
/// upstream read often carries many frames) go out in one write, which saves a syscall and a
/// TCP segment per event and delays none; `ping`s while the upstream is silent. Dropping the
/// body (client gone) drops the upstream stream, which cancels the upstream call.
pub fn batched<S, A>(
    mut stream: S,
    mut relay: A,
    ping: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send
where
    S: futures::Stream<Item = A::Item> + Unpin + Send + 'static,
    A: Absorb,
{
    async_stream::stream! {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
        // The first batch goes out without waiting for more: the first token reaches the
        // client as soon as it is ready.
        let mut first = true;
        loop {
            tokio::select! {
                biased;
                item = stream.next() => {
                    let mut out = BytesMut::new();
                    let mut more = relay.absorb(item, &mut out);
                    // The upstream's HTTP client hands its body over one chunk (one event) at
                    // a time, from its connection task: when nothing is ready, let the other
                    // ready tasks run (twice: a chunk takes two rounds to come through) before
                    // writing, so that events already read from the upstream go out in one
                    // write instead of one each. Nothing waits on the network for this.
                    let eager = std::mem::replace(&mut first, false);
                    let mut yielded = 0u32;
                    while more && out.len() < MAX_BATCH_BYTES {
                        match stream.next().now_or_never() {
                            Some(item) => {
                                more = relay.absorb(item, &mut out);
                                yielded = 0;
                            }
                            None if !eager && yielded < YIELDS_BEFORE_WRITE => {
                                run_others_once().await;
                                yielded += 1;
                            }
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
                    let bytes = relay.ping();
                    if !bytes.is_empty() {
                        yield Ok(bytes);
                    }
                }
            }
        }
        let tail = relay.finish();
        if !tail.is_empty() {
            yield Ok(tail);
        }
    }
}

/// Lets every other task that is ready run once, then resumes: the task is rescheduled at
/// the back of the run queue at once (tokio's `yield_now` instead waits for the next poll of
/// the I/O driver, by which time the upstream's connection task has handed over one chunk at
/// most).
async fn run_others_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

/// Encodes stream items and keeps the request's record; says when the stream is over.
struct Relay<D> {
    dialect: D,
    record: RequestRecord,
    ended: bool,
}

impl<D: SseDialect> Absorb for Relay<D> {
    type Item = Result<Event, Error>;

    fn absorb(&mut self, item: Option<Result<Event, Error>>, out: &mut BytesMut) -> bool {
        match item {
            Some(Ok(event)) => {
                self.record.first_byte();
                if let Event::MessageEnd { usage, .. } = &event {
                    self.record.set_usage(*usage);
                    self.ended = true;
                }
                self.dialect.event(&event, out);
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

    fn ping(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        self.dialect.event(&Event::Ping, &mut out);
        out.freeze()
    }

    fn finish(mut self) -> Bytes {
        self.record.set_status(200);
        self.record.finish();
        self.dialect.done()
    }
}

/// The SSE body for `stream` in `dialect` ([`batched`]).
pub fn sse_body<D: SseDialect>(
    stream: EventStream,
    dialect: D,
    ping: Duration,
    mut record: RequestRecord,
) -> Body {
    record.streaming();
    let relay = Relay {
        dialect,
        record,
        ended: false,
    };
    Body::from_stream(batched(stream, relay, ping))
}
