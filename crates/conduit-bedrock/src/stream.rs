//! Bedrock's `invoke-with-response-stream` body → Anthropic events: event-stream frames
//! ([`conduit_upstream::eventstream`]) whose `chunk` payload `{"bytes": base64, "p": padding}`
//! holds one Anthropic event JSON. Each event is handed on as the upstream wrote it, except:
//! `amazon-bedrock-invocationMetrics` is removed, absent cache fields of `message_start` usage
//! are filled with 0 and those of `message_delta` usage with `message_start`'s values (clients
//! take the last value per field, so a 0 there would erase a cache write; the TTL split
//! `usage.cache_creation` is carried through as Bedrock wrote it, and repeated from
//! `message_start` where `message_delta` has none), and `message_start.message.model` becomes
//! the client's model name. In-band exceptions (`:message-type=exception`) end the stream with
//! a typed error. Bedrock sends no pings; the gateway's relay writes its own keepalives.

use base64::Engine as _;
use bytes::Bytes;
use conduit_core::{Error, ErrorKind, RawEvent};
use conduit_upstream::eventstream::{Frame, FrameDecoder};
use serde_json::{Map, Value};

use crate::errors::{self, ErrorContext};

const METRICS: &str = "amazon-bedrock-invocationMetrics";

/// Decodes one response body pushed in arbitrary chunks.
#[derive(Debug)]
pub struct StreamDecoder {
    frames: FrameDecoder,
    client_model: String,
    upstream: String,
    credential: &'static str,
    /// `message_start`'s cache fields (creation, read, TTL split), repeated where
    /// `message_delta` has none.
    cache: CacheUsage,
    done: bool,
}

/// The cache fields of a stream's `message_start` usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheUsage {
    pub creation: u64,
    pub read: u64,
    /// `usage.cache_creation` (the TTL split) exactly as written, if it was.
    pub split: Option<Value>,
}

impl StreamDecoder {
    pub fn new(
        client_model: impl Into<String>,
        upstream: impl Into<String>,
        credential: &'static str,
    ) -> Self {
        Self {
            frames: FrameDecoder::new(),
            client_model: client_model.into(),
            upstream: upstream.into(),
            credential,
            cache: CacheUsage::default(),
            done: false,
        }
    }

    /// The events completed by `chunk`. An `Err` ends the stream; later calls return nothing.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<RawEvent, Error>> {
        if self.done {
            return vec![];
        }
        let frames = match self.frames.push(chunk) {
            Ok(f) => f,
            Err(e) => {
                self.done = true;
                return vec![Err(e)];
            }
        };
        let mut out = Vec::with_capacity(frames.len());
        for frame in &frames {
            match self.frame(frame) {
                None => {}
                Some(Ok(ev)) => out.push(Ok(ev)),
                Some(Err(e)) => {
                    self.done = true;
                    out.push(Err(e));
                    break;
                }
            }
        }
        out
    }

    /// At the end of the body: an error if it was cut inside a frame.
    pub fn finish(&mut self) -> Option<Error> {
        if self.done {
            return None;
        }
        self.done = true;
        self.frames.finish().err()
    }

    fn frame(&mut self, frame: &Frame) -> Option<Result<RawEvent, Error>> {
        let cx = ErrorContext {
            upstream: &self.upstream,
            credential: self.credential,
        };
        match frame.message_type() {
            "event" => {
                if frame.header(":event-type") != Some("chunk") {
                    return None;
                }
                Some(
                    chunk_event(&frame.payload)
                        .and_then(|data| rewrite(&data, &self.client_model, &mut self.cache)),
                )
            }
            "exception" => {
                let kind = frame
                    .header(":exception-type")
                    .unwrap_or("UnknownException");
                let message = errors::body_message(&frame.payload);
                Some(Err(errors::classify(0, kind, &message, &cx)))
            }
            "error" => {
                let kind = frame.header(":error-code").unwrap_or("UnknownError");
                let message = frame
                    .header(":error-message")
                    .map(str::to_owned)
                    .unwrap_or_else(|| errors::body_message(&frame.payload));
                Some(Err(errors::classify(0, kind, &message, &cx)))
            }
            _ => None,
        }
    }
}

/// The Anthropic event JSON inside a `chunk` payload.
fn chunk_event(payload: &[u8]) -> Result<Vec<u8>, Error> {
    #[derive(serde::Deserialize)]
    struct Chunk {
        bytes: String,
    }
    let chunk: Chunk = serde_json::from_slice(payload)
        .map_err(|e| protocol(format!("Bedrock sent a chunk without `bytes`: {e}")))?;
    base64::engine::general_purpose::STANDARD
        .decode(chunk.bytes.as_bytes())
        .map_err(|e| {
            protocol(format!(
                "Bedrock sent a chunk whose `bytes` are not base64: {e}"
            ))
        })
}

/// One event as the client sees it (see the module docs); bytes are re-serialised only when
/// something changed. `cache` carries `message_start`'s cache fields to `message_delta`.
pub fn rewrite(data: &[u8], client_model: &str, cache: &mut CacheUsage) -> Result<RawEvent, Error> {
    let mut event: Map<String, Value> = serde_json::from_slice(data).map_err(|e| {
        protocol(format!(
            "Bedrock sent a chunk that is not an event object: {e}"
        ))
    })?;
    let name = match event.get("type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None => return Err(protocol("Bedrock sent an event without `type`".to_owned())),
    };
    let mut changed = event.remove(METRICS).is_some();
    match name.as_str() {
        "message_start" => {
            if let Some(Value::Object(message)) = event.get_mut("message") {
                changed |= rewrite_message(message, client_model);
                if let Some(Value::Object(usage)) = message.get("usage") {
                    let field = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
                    *cache = CacheUsage {
                        creation: field("cache_creation_input_tokens"),
                        read: field("cache_read_input_tokens"),
                        split: usage
                            .get("cache_creation")
                            .filter(|v| v.is_object())
                            .cloned(),
                    };
                }
            }
        }
        "message_delta" => {
            if let Some(Value::Object(usage)) = event.get_mut("usage") {
                changed |= fill_cache_fields(usage, cache);
            }
        }
        _ => {}
    }
    let data = if changed {
        Bytes::from(serde_json::to_vec(&event).map_err(|e| Error::internal(e.to_string()))?)
    } else {
        Bytes::copy_from_slice(data)
    };
    Ok(RawEvent { name, data })
}

/// A Messages object (`message_start.message`, or a whole `invoke` answer): the client's model
/// name and both cache fields in `usage`. Returns whether anything changed.
pub fn rewrite_message(message: &mut Map<String, Value>, client_model: &str) -> bool {
    let mut changed = false;
    if message.get("model").and_then(Value::as_str) != Some(client_model) {
        message.insert("model".into(), client_model.into());
        changed = true;
    }
    if let Some(Value::Object(usage)) = message.get_mut("usage") {
        changed |= fill_cache_fields(usage, &CacheUsage::default());
    }
    changed
}

/// Absent cache fields of `usage` get the values in `with`; a `cache_creation` split `usage`
/// has is never touched.
fn fill_cache_fields(usage: &mut Map<String, Value>, with: &CacheUsage) -> bool {
    let mut changed = false;
    for (key, value) in [
        ("cache_creation_input_tokens", with.creation),
        ("cache_read_input_tokens", with.read),
    ] {
        if !usage.get(key).is_some_and(Value::is_u64) {
            usage.insert(key.into(), value.into());
            changed = true;
        }
    }
    if let Some(split) = &with.split {
        if !usage.get("cache_creation").is_some_and(Value::is_object) {
            usage.insert("cache_creation".into(), split.clone());
            changed = true;
        }
    }
    changed
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::UpstreamProtocol, message)
}

#[cfg(test)]
mod tests;
