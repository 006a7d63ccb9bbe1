//! Incremental AWS event-stream decoding (`application/vnd.amazon.eventstream`) into
//! [`Frame`]s: headers and payload. Framing here, one frame's layout and CRCs in [`decode`]
//! (our own: `aws-smithy-eventstream`'s decoder checks its CRCs a byte at a time and copies
//! every header and payload, several times the cost per frame; the tests hold the two to the
//! same answers). Encoding, for simulators and tests, is `aws-smithy-eventstream`'s. What a
//! frame means (Kiro's events, Bedrock's chunks) is the upstream crate's business.

mod decode;

use std::pin::Pin;

use aws_smithy_eventstream::frame::write_message_to;
pub use aws_smithy_types::event_stream::HeaderValue;
use aws_smithy_types::event_stream::{Header, Message};
use bytes::{Buf, Bytes, BytesMut};
use conduit_core::{Error, ErrorKind};
use futures::{Stream, StreamExt};

/// A response body as a stream of byte chunks. Dropping it closes the upstream response.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// Prelude: total length, headers length, prelude CRC.
const PRELUDE_LEN: usize = 12;
/// Prelude plus the trailing message CRC.
const MIN_FRAME_LEN: usize = 16;
/// Larger frames are refused as corrupt (16 MiB, the service's own cap).
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

fn protocol(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

/// One event-stream message: its headers in wire order and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Frame {
    /// A frame whose headers are all strings (what AWS services send).
    pub fn new<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, payload: Bytes) -> Self {
        Self {
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_string(), HeaderValue::String(v.to_string().into())))
                .collect(),
            payload,
        }
    }

    /// The value of the string header `name` (`:message-type`, `:event-type`, ...).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_string().ok())
            .map(|s| s.as_str())
    }

    /// `:message-type`, `event` when absent.
    pub fn message_type(&self) -> &str {
        self.header(":message-type").unwrap_or("event")
    }

    /// The frame's bytes on the wire (prelude, headers, payload, CRCs). For simulators and tests.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let message = Message::new_from_parts(
            self.headers
                .iter()
                .map(|(n, v)| Header::new(n.clone(), v.clone()))
                .collect(),
            self.payload.clone(),
        );
        let mut out = Vec::new();
        write_message_to(&message, &mut out)
            .map_err(|e| Error::internal(format!("cannot encode an event-stream frame: {e}")))?;
        Ok(out)
    }
}

/// Decodes event-stream bytes pushed in arbitrary chunks.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every frame completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Frame>, Error> {
        self.buf.extend_from_slice(chunk);
        let mut frames = Vec::new();
        // Only whole frames are handed to the smithy decoder, so that bytes left in `buf` are
        // exactly the unfinished frame (which `finish` reports).
        while self.buf.len() >= PRELUDE_LEN {
            let total = (&self.buf[..4]).get_u32() as usize;
            if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) {
                return Err(protocol(format!(
                    "the upstream sent an event-stream frame with an impossible length ({total} bytes)"
                )));
            }
            if self.buf.len() < total {
                break;
            }
            let frame = self.buf.split_to(total).freeze();
            match decode::frame(frame) {
                Ok(frame) => frames.push(frame),
                Err(e) => {
                    return Err(protocol(format!(
                        "the upstream sent a corrupt event-stream frame: {e}"
                    )))
                }
            }
        }
        Ok(frames)
    }

    /// Call at end of body: errors if a partial frame is left over.
    pub fn finish(&self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(protocol(format!(
                "the upstream stream was cut in the middle of an event-stream frame ({} bytes left over)",
                self.buf.len()
            )))
        }
    }
}

/// The frames of a response body. A body error, a corrupt frame or a body cut mid-frame ends
/// the stream with one error.
pub fn frames(body: BodyStream) -> impl Stream<Item = Result<Frame, Error>> + Send {
    async_stream::stream! {
        let mut body = body;
        let mut decoder = FrameDecoder::new();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    yield Err(protocol(format!(
                        "the upstream stream was cut before the response was complete: {e}"
                    )));
                    return;
                }
            };
            match decoder.push(&chunk) {
                Ok(frames) => {
                    for frame in frames {
                        yield Ok(frame);
                    }
                }
                Err(e) => {
                    yield Err(e);
                    return;
                }
            }
        }
        if let Err(e) = decoder.finish() {
            yield Err(e);
        }
    }
}

#[cfg(test)]
mod tests;
