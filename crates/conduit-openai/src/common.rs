//! Pieces both OpenAI dialects share: body parsing with JSON paths in errors, the error table,
//! data-URL images, reasoning effort, `response_format` / `text.format` instructions, SSE framing.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use conduit_core::{Effort, Error, ErrorKind, Image, Thinking};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Image media types the upstream (Kiro, like Anthropic) accepts.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Parse a body into wire type `T`; errors name the JSON path (`messages.2.content.0.text: ...`).
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    // serde would read a JSON array as a struct's fields in order and complain about `0`.
    if body.trim_ascii_start().first() == Some(&b'[') {
        return Err(Error::invalid_request(format!(
            "the request body is not {what}: expected a JSON object, found an array"
        )));
    }
    conduit_core::wire_util::parse_json(body, what)
}

/// A field that is either a plain string or an array of content parts.
pub use conduit_core::wire_util::TextOr as TextOrParts;

/// HTTP status, OpenAI error `type` and `code` for an error kind.
pub fn error_parts(kind: &ErrorKind) -> (u16, &'static str, Option<&'static str>) {
    match kind {
        ErrorKind::InvalidRequest => (400, "invalid_request_error", None),
        ErrorKind::ContextOverflow { .. } => (
            400,
            "invalid_request_error",
            Some("context_length_exceeded"),
        ),
        ErrorKind::Authentication => (401, "invalid_request_error", Some("invalid_api_key")),
        // Not the client's key (that is `Authentication`): the gateway's upstream credentials.
        ErrorKind::Credentials => (
            403,
            "permission_error",
            Some("upstream_credentials_unavailable"),
        ),
        ErrorKind::PermissionDenied => (403, "permission_error", None),
        ErrorKind::NotFound => (404, "invalid_request_error", Some("not_found")),
        ErrorKind::RequestTooLarge => (413, "invalid_request_error", Some("request_too_large")),
        ErrorKind::RateLimited => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        ErrorKind::Overloaded => (503, "server_error", Some("server_is_overloaded")),
        ErrorKind::Timeout => (504, "server_error", Some("timeout")),
        ErrorKind::UpstreamProtocol | ErrorKind::IncompleteTurn => {
            (502, "server_error", Some("bad_gateway"))
        }
        ErrorKind::Internal => (500, "server_error", None),
        ErrorKind::Unavailable => (503, "server_error", Some("service_unavailable")),
        ErrorKind::BudgetExceeded => (429, "billing_error", Some("insufficient_quota")),
    }
}

#[derive(Serialize)]
pub(crate) struct ErrorEnvelope {
    error: ErrorObject,
}

#[derive(Serialize)]
struct ErrorObject {
    message: String,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl ErrorEnvelope {
    pub(crate) fn new(e: &Error) -> Self {
        let (_, kind, code) = error_parts(&e.kind);
        Self {
            error: ErrorObject {
                message: e.message.clone(),
                kind,
                param: None,
                code,
            },
        }
    }
}

/// Serialize a type of ours. Our wire types have string keys and no fallible `Serialize` impls,
/// so this cannot fail in practice; should it, the client still gets valid JSON.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        let e = Error::internal(format!(
            "the gateway could not serialize its response ({e})"
        ));
        serde_json::to_vec(&ErrorEnvelope::new(&e)).unwrap_or_default()
    })
}

/// Seconds since the Unix epoch, for `created` / `created_at`.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `data: <json>\n\n`, optionally preceded by `event: <name>\n`.
pub(crate) fn write_sse<T: Serialize>(out: &mut BytesMut, event: Option<&str>, data: &T) {
    if let Some(name) = event {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_slice(b"\n");
    }
    out.put_slice(b"data: ");
    out.put_slice(&to_json(data));
    out.put_slice(b"\n\n");
}

/// An image given as a URL. Only `data:` URLs can be served: the upstream cannot fetch.
pub(crate) fn image_from_url(url: &str, path: &str) -> Result<Image, Error> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(Error::invalid_request(format!(
            "{path}: image URLs are not supported by this gateway because its upstream (Kiro) \
             cannot fetch them; send the image inline as a base64 data URL \
             (data:image/png;base64,...)"
        )));
    };
    let Some((header, data)) = rest.split_once(',') else {
        return Err(Error::invalid_request(format!(
            "{path}: malformed data URL; expected data:<media type>;base64,<data>"
        )));
    };
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(Error::invalid_request(format!(
            "{path}: only base64 data URLs are supported (data:<media type>;base64,<data>)"
        )));
    };
    let media_type = media_type.to_ascii_lowercase();
    let media_type = if media_type == "image/jpg" {
        "image/jpeg".to_owned()
    } else {
        media_type
    };
    if !IMAGE_TYPES.contains(&media_type.as_str()) {
        return Err(Error::invalid_request(format!(
            "{path}: image type '{media_type}' is not supported; use image/jpeg, image/png, \
             image/gif or image/webp"
        )));
    }
    Ok(Image {
        media_type,
        data: data.to_owned(),
    })
}

/// OpenAI reasoning effort → canonical thinking and effort. Adaptive rather than a fixed
/// budget: the upstream sizes its reasoning itself, and the level is passed on as the effort
/// (`minimal` → low; `xhigh` and `max` as they are). `none` disables thinking; unknown levels
/// think with no effort of their own rather than being refused (new levels appear with new
/// models).
pub(crate) fn thinking(level: Option<&str>) -> (Thinking, Option<Effort>) {
    match level {
        None | Some("none") => (Thinking::Disabled, None),
        Some(level) => (Thinking::Adaptive, Effort::parse(level)),
    }
}

/// `response_format` (Chat) / `text.format` (Responses). The upstream has no constrained
/// decoding, so JSON modes become a system instruction (best effort, documented in the crate
/// docs); plain text needs nothing.
pub(crate) fn format_instruction(format: &Value, path: &str) -> Result<Option<String>, Error> {
    let kind = format.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "text" => Ok(None),
        "json_object" => Ok(Some(
            "Respond with a single valid JSON object and nothing else: no prose, no code fences."
                .to_owned(),
        )),
        "json_schema" => {
            // Chat nests the schema under `json_schema`; Responses puts it on the format itself.
            let spec = format.get("json_schema").unwrap_or(format);
            let Some(schema) = spec.get("schema") else {
                return Err(Error::invalid_request(format!(
                    "{path}: json_schema format requires `schema`"
                )));
            };
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response");
            Ok(Some(format!(
                "Respond with a single valid JSON object and nothing else (no prose, no code \
                 fences). It must conform to this JSON Schema named `{name}`:\n{schema}"
            )))
        }
        other => Err(Error::invalid_request(format!(
            "{path}.type: unsupported format `{other}`; use text, json_object or json_schema"
        ))),
    }
}

/// Parse a tool call's `arguments` string into the input object. An empty string is `{}`
/// (clients send it for functions without parameters).
pub(crate) fn parse_arguments(arguments: &str, path: &str) -> Result<Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::invalid_request(format!(
            "{path}: the arguments must be a JSON object"
        ))),
        Err(e) => Err(Error::invalid_request(format!(
            "{path}: the arguments are not valid JSON ({e})"
        ))),
    }
}

/// A function's parameter schema; a missing one means "no parameters", as OpenAI allows.
pub(crate) fn parameters(schema: Option<Value>) -> Value {
    schema.unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}))
}
