//! The Anthropic Messages dialect: `/v1/messages` and `/v1/messages/count_tokens` bodies to the
//! canonical [`conduit_core::Request`], and canonical events, responses, errors and model lists
//! back to Anthropic's wire format. Pure functions over bytes; no HTTP framework.

pub mod decode;
pub mod encode;
pub mod upstream;
pub mod wire;

use conduit_core::{Error, Request};

pub use encode::{
    count_tokens_body, error_body, error_status, models_body, response_body, SseEncoder,
};

/// The request headers the dialect reads; the gateway extracts them from its framework.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHeaders {
    /// `X-Claude-Code-Session-Id`, for sticky routing.
    pub session_id: Option<String>,
}

/// Decode a `POST /v1/messages` body. `max_tokens` is required, as Anthropic requires it.
pub fn decode_request(body: &[u8], headers: &RequestHeaders) -> Result<Request, Error> {
    let wire = decode::parse(body)?;
    match wire.max_tokens {
        None => return Err(Error::invalid_request("max_tokens: Field required")),
        Some(0) => {
            return Err(Error::invalid_request(
                "max_tokens: Input should be greater than or equal to 1",
            ))
        }
        Some(_) => {}
    }
    let mut request = decode::request(wire)?;
    // The header wins; without it, the session id inside `metadata.user_id` (if any).
    if let Some(header) = headers
        .session_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        request.meta.session_id = Some(header.to_owned());
    }
    Ok(request)
}

/// Decode a `POST /v1/messages/count_tokens` body (no `max_tokens`; never streamed).
pub fn decode_count_tokens(body: &[u8]) -> Result<Request, Error> {
    let mut request = decode::request(decode::parse(body)?)?;
    request.stream = false;
    Ok(request)
}
