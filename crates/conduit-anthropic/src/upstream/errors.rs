//! An Anthropic error answer (`{"type":"error","error":{"type":…,"message":…}}`) → the one
//! [`Error`], classified by the envelope's `error.type` and the HTTP status (never by the
//! message text), with the body kept raw for an Anthropic client.

use bytes::Bytes;
use conduit_core::{Error, ErrorKind, FailoverCause, RawError};
use serde_json::Value;

/// Classifies a non-2xx answer of a Messages upstream. 401/403 are the *upstream's* key being
/// refused (the gateway's credentials), never the client's. The body is kept as
/// [`RawError`] (dialect `"anthropic"`) so an Anthropic client can get it unmodified.
pub fn error_from_body(status: u16, body: &[u8]) -> Error {
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let detail = envelope.as_ref().and_then(|v| v.get("error"));
    let kind = detail
        .and_then(|d| d.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = detail
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("the upstream answered HTTP {status} with no body")
            } else {
                format!(
                    "the upstream answered HTTP {status}: {}",
                    truncate(text, 500)
                )
            }
        });
    classify(Some(status), kind, message).with_raw(RawError {
        dialect: "anthropic",
        status,
        body: Bytes::copy_from_slice(body),
    })
}

/// Classifies the `error` object of an in-stream `event: error` (no HTTP status).
pub fn error_from_event(error: &Value) -> Error {
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the upstream ended the stream with an error")
        .to_owned();
    classify(None, kind, message)
}

fn classify(status: Option<u16>, kind: &str, message: String) -> Error {
    use ErrorKind as K;
    use FailoverCause as C;
    let (kind, cause) = match (kind, status) {
        ("rate_limit_error", _) | (_, Some(429)) => (K::RateLimited, Some(C::Throttled)),
        ("overloaded_error" | "api_error", _) | (_, Some(500..=599)) if status != Some(504) => {
            (K::Overloaded, Some(C::ServerError))
        }
        ("timeout_error", _) | (_, Some(504 | 408)) => (K::Timeout, Some(C::Timeout)),
        ("authentication_error" | "permission_error", _) | (_, Some(401 | 403)) => {
            (K::Credentials, Some(C::Credentials))
        }
        ("not_found_error", _) | (_, Some(404)) => (K::NotFound, Some(C::ModelUnavailable)),
        ("request_too_large", _) | (_, Some(413)) => (K::RequestTooLarge, None),
        _ => {
            if let Some((tokens, max)) = prompt_too_long(&message) {
                return Error::new(K::ContextOverflow { tokens, max }, message);
            }
            (K::InvalidRequest, None)
        }
    };
    let error = Error::new(kind, message);
    match cause {
        Some(c) => error.with_cause(c),
        None => error,
    }
}

/// `prompt is too long: 210000 tokens > 200000 maximum` → (210000, 200000): Anthropic's own
/// wording, on which clients compact (a fixed format, parsed rather than searched).
fn prompt_too_long(message: &str) -> Option<(u64, u64)> {
    let rest = message.strip_prefix("prompt is too long: ")?;
    let (tokens, rest) = rest.split_once(" tokens > ")?;
    let max = rest.split_whitespace().next()?;
    Some((tokens.trim().parse().ok()?, max.parse().ok()?))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
