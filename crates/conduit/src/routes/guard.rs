//! The API-key guard: `x-api-key` or `Authorization: Bearer`, compared in constant time.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use conduit_core::{Error, ErrorKind};

use super::models::Dialect;
use super::{anthropic, openai};
use crate::state::Access;

/// Every credential a client presented: `x-api-key` and `Authorization: Bearer`. Claude Code
/// sends both when `ANTHROPIC_API_KEY` (say, from the shell) sits next to the
/// `ANTHROPIC_AUTH_TOKEN` conduit writes; either one being conduit's key is enough.
pub(crate) fn presented_keys(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    api_key.into_iter().chain(bearer)
}

pub async fn require_key(State(access): State<Access>, req: Request, next: Next) -> Response {
    let error_response = match Dialect::of(req.uri().path(), req.headers()) {
        Dialect::Anthropic => anthropic::error_response,
        Dialect::OpenAi => openai::error_response,
    };
    let version = req.version();
    let mut presented = presented_keys(req.headers()).peekable();
    if presented.peek().is_none() {
        return unread_body(
            version,
            error_response(&Error::new(
                ErrorKind::Authentication,
                "missing API key: send it as x-api-key or Authorization: Bearer",
            )),
        );
    }
    // Every presented key is compared (constant time each), so timing does not tell which one
    // was wrong.
    let accepted = presented.fold(false, |ok, k| access.key.matches(k) | ok);
    if accepted {
        next.run(req).await
    } else {
        unread_body(
            version,
            error_response(&Error::new(
                ErrorKind::Authentication,
                "invalid x-api-key: use the key in $CONDUIT_HOME/api-key (`conduit api-key --raw`)",
            )),
        )
    }
}

/// A refusal sent before the request body was read: on HTTP/1 the server closes the
/// connection after it, so say so (`Connection: close`); a client that pooled the connection
/// would otherwise send its next request into a closing socket.
pub(crate) fn unread_body(version: axum::http::Version, mut response: Response) -> Response {
    if version <= axum::http::Version::HTTP_11 {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    response
}
