//! Kiro's reading of AWS event-stream frames: [`FrameDecoder`] turns response bytes into
//! [`KiroEvent`]s by each frame's `:message-type` and `:event-type`. The framing itself (lengths,
//! headers, CRCs) is [`conduit_upstream::eventstream`]'s.

use bytes::Bytes;
use conduit_core::Error;
use conduit_upstream::eventstream::{self as frames, Frame};

use crate::wire::KiroEvent;

/// Decodes Kiro event-stream bytes pushed in arbitrary chunks.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    frames: frames::FrameDecoder,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<KiroEvent>, Error> {
        self.frames
            .push(chunk)?
            .iter()
            .map(event_from_frame)
            .collect()
    }

    /// Call at end of body: errors if a partial frame is left over.
    pub fn finish(&self) -> Result<(), Error> {
        self.frames.finish()
    }
}

/// Turns one decoded frame into a [`KiroEvent`] by its `:message-type`.
pub fn event_from_frame(frame: &Frame) -> Result<KiroEvent, Error> {
    let payload = &frame.payload;
    match frame.message_type() {
        "event" => {
            let event_type = frame.header(":event-type").unwrap_or("");
            KiroEvent::from_event(event_type, payload)
        }
        "exception" => {
            let kind = frame
                .header(":exception-type")
                .unwrap_or("UnknownException");
            Ok(KiroEvent::from_exception(kind, payload))
        }
        "error" => {
            let kind = frame.header(":error-code").unwrap_or("UnknownError");
            let message = match frame.header(":error-message") {
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
    let (type_header, message_type) = if is_exception {
        (":exception-type", "exception")
    } else {
        (":event-type", "event")
    };
    Frame::new(
        [
            (type_header, type_name.as_str()),
            (":content-type", "application/json"),
            (":message-type", message_type),
        ],
        Bytes::from(payload.to_string()),
    )
    .encode()
}
