//! Incremental AWS event-stream decoding (`application/vnd.amazon.eventstream`) into
//! [`KiroEvent`]s. Framing, header parsing and both CRC checks are `aws-smithy-eventstream`'s.

use aws_smithy_eventstream::frame::{write_message_to, DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Buf, BytesMut};
use conduit_core::{Error, ErrorKind};

use crate::wire::KiroEvent;

/// Prelude: total length, headers length, prelude CRC.
const PRELUDE_LEN: usize = 12;
/// Prelude plus the trailing message CRC.
const MIN_FRAME_LEN: usize = 16;
/// Larger frames are refused as corrupt (the same cap as kiro.rs).
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

fn protocol(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

/// Decodes event-stream bytes pushed in arbitrary chunks.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
    decoder: MessageFrameDecoder,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<KiroEvent>, Error> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
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
            let mut frame = self.buf.split_to(total).freeze();
            match self.decoder.decode_frame(&mut frame) {
                Ok(DecodedFrame::Complete(message)) => events.push(event_from_message(&message)?),
                Ok(DecodedFrame::Incomplete) => {
                    return Err(Error::internal(
                        "event-stream decoder wanted more bytes than the frame length announced",
                    ))
                }
                Err(e) => {
                    return Err(protocol(format!(
                        "the upstream sent a corrupt event-stream frame: {e}"
                    )))
                }
            }
        }
        Ok(events)
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

fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

/// Turns one decoded message into a [`KiroEvent`] by its `:message-type`.
pub fn event_from_message(message: &Message) -> Result<KiroEvent, Error> {
    let payload = message.payload();
    match header(message, ":message-type").unwrap_or("event") {
        "event" => {
            let event_type = header(message, ":event-type").unwrap_or("");
            KiroEvent::from_event(event_type, payload)
        }
        "exception" => {
            let kind = header(message, ":exception-type").unwrap_or("UnknownException");
            Ok(KiroEvent::from_exception(kind, payload))
        }
        "error" => {
            let kind = header(message, ":error-code").unwrap_or("UnknownError");
            let message = match header(message, ":error-message") {
                Some(m) => m.to_string(),
                None => String::from_utf8_lossy(payload).trim().to_string(),
            };
            Ok(KiroEvent::Exception {
                kind: kind.to_string(),
                message,
            })
        }
        other => Ok(KiroEvent::Other(format!("message-type {other}"))),
    }
}

/// Encodes an event as one event-stream frame, as the service would (header order
/// `:event-type`, `:content-type`, `:message-type`). For the simulator and tests.
pub fn encode_event(event: &KiroEvent) -> Result<Vec<u8>, Error> {
    let (is_exception, type_name, payload) = event.to_wire();
    let type_header = if is_exception {
        ":exception-type"
    } else {
        ":event-type"
    };
    let string = |v: String| HeaderValue::String(v.into());
    let message = Message::new_from_parts(
        vec![
            Header::new(type_header, string(type_name)),
            Header::new(":content-type", string("application/json".into())),
            Header::new(
                ":message-type",
                string(if is_exception { "exception" } else { "event" }.into()),
            ),
        ],
        payload.to_string().into_bytes(),
    );
    let mut out = Vec::new();
    write_message_to(&message, &mut out)
        .map_err(|e| Error::internal(format!("cannot encode an event-stream frame: {e}")))?;
    Ok(out)
}
