//! The API-key guard: `x-api-key` or `Authorization: Bearer`, compared in constant time.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use conduit_core::{Error, ErrorKind};

use super::models::Dialect;
use super::{anthropic, openai};
use crate::state::Access;

/// The key a client presented, from either header.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

pub async fn require_key(State(access): State<Access>, req: Request, next: Next) -> Response {
    let error_response = match Dialect::of(req.uri().path(), req.headers()) {
        Dialect::Anthropic => anthropic::error_response,
        Dialect::OpenAi => openai::error_response,
    };
    match presented_key(req.headers()) {
        Some(k) if access.key.matches(k) => next.run(req).await,
        Some(_) => error_response(&Error::new(
            ErrorKind::Authentication,
            "invalid x-api-key: use the key in $CONDUIT_HOME/api-key (`conduit api-key --raw`)",
        )),
        None => error_response(&Error::new(
            ErrorKind::Authentication,
            "missing API key: send it as x-api-key or Authorization: Bearer",
        )),
    }
}
