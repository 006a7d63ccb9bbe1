//! The admin API's one error type: a `conduit_core::Error` rendered in Anthropic's envelope,
//! with store errors mapped by kind and every 401 marked `x-should-retry: false`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, ErrorKind};
use conduit_store::StoreError;

/// What an admin handler returns on failure.
#[derive(Debug)]
pub struct ApiError(pub Error);

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self(Error::invalid_request(message))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self(Error::new(ErrorKind::Authentication, message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self(Error::new(ErrorKind::PermissionDenied, message))
    }

    pub fn not_found(what: &str) -> Self {
        Self(Error::new(ErrorKind::NotFound, format!("{what} not found")))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self(store_error(e))
    }
}

/// A store failure as the client should see it. Driver text stays in the log.
pub fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "team store unreachable");
            Error::new(
                ErrorKind::Unavailable,
                "the team store is unreachable: try again shortly (GET /readyz says why)",
            )
        }
        StoreError::NotFound { what } => {
            Error::new(ErrorKind::NotFound, format!("{what} not found"))
        }
        StoreError::Conflict(message) => Error::invalid_request(message),
        StoreError::Internal(detail) => {
            tracing::error!(%detail, "team store error");
            Error::internal("internal error in the team store; the gateway log has the details")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        render(&self.0)
    }
}

/// Render an error in Anthropic's envelope (`retry-after` when it carries one); a 401 tells
/// clients not to retry with the same credential.
pub fn render(error: &Error) -> Response {
    let mut response = crate::routes::anthropic::error_response(error);
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    response
}
