//! Messages events as Bedrock `InvokeModelWithResponseStream` frames: `chunk` events whose
//! payload is `{"bytes": base64(event JSON), "p": padding}`, and in-band exception messages.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng as _;
use serde_json::{json, Value};

use crate::frames::{self, FrameError};
use crate::messages::reply::Item;
use crate::rules::Action;

fn header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

/// One `chunk` event frame carrying a Messages event.
pub(crate) fn chunk(event: &Value) -> Result<Bytes, FrameError> {
    let pad_len = rand::rng().random_range(1..=32);
    let payload = json!({
        "bytes": B64.encode(event.to_string()),
        "p": Alphanumeric.sample_string(&mut rand::rng(), pad_len),
    });
    let message = Message::new_from_parts(
        vec![
            header(":event-type", "chunk"),
            header(":content-type", "application/json"),
            header(":message-type", "event"),
        ],
        payload.to_string().into_bytes(),
    );
    let mut buf = Vec::new();
    write_message_to(&message, &mut buf).map_err(|e| FrameError(e.to_string()))?;
    Ok(Bytes::from(buf))
}

/// The body plan of a streamed reply.
pub(crate) fn actions(items: &[Item]) -> Result<Vec<Action>, FrameError> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Event(ev) => out.push(Action::Frame(chunk(ev)?)),
            Item::Delay(d) => out.push(Action::Delay(*d)),
            Item::Exception { kind, message } => {
                out.push(Action::Frame(frames::exception(kind, message)?));
                return Ok(out);
            }
            Item::Cut => {
                out.push(Action::Cut);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// The HTTP status and error name of a ResponseStream exception member on a non-streaming call.
pub(crate) fn exception_status(kind: &str) -> (u16, String) {
    let status = match kind {
        "throttlingException" => 429,
        "serviceUnavailableException" => 503,
        "validationException" => 400,
        "modelTimeoutException" => 408,
        "modelStreamErrorException" => 424,
        _ => 500,
    };
    let mut name: Vec<char> = kind.chars().collect();
    if let Some(c) = name.first_mut() {
        *c = c.to_ascii_uppercase();
    }
    (status, name.into_iter().collect())
}
