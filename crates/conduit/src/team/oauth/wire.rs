//! The authorization server's wire helpers: RFC 6749 §5.2 error answers (`{"error",
//! "error_description"}`, never cached), JSON answers marked `no-store`, required form fields
//! (the rest is `team/wire.rs`, shared with the other doors).

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conduit_store::StoreError;
use serde_json::{json, Value};

/// An OAuth error answer.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: Option<String>,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// 400 with `error` and no description (the polling answers).
    pub fn bare(error: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: None,
            retry_after: None,
        }
    }

    /// 400 with `error` and a description.
    pub fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            description: Some(description.into()),
            ..Self::bare(error)
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        let (status, error) = match &e {
            StoreError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let description = crate::team::api::store_error(e).message;
        Self {
            status,
            error,
            description: Some(description),
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(5),
        }
    }
}

impl From<conduit_core::Error> for OAuthError {
    fn from(e: conduit_core::Error) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: Some(e.message),
            retry_after: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(d) = self.description {
            body["error_description"] = Value::String(d);
        }
        let mut response = no_store(self.status, body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON answer with `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A required, non-empty form field.
pub fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("missing `{name}`")))
}
