//! `AdminJson<T>`: an admin request body, at most 64 KiB (413), parsed with the failing field's
//! path in the 400. Unknown fields are accepted and ignored, as CCAG does, so its scripts run.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use conduit_core::{Error, ErrorKind};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest admin request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON admin body of type `T`.
pub struct AdminJson<T>(pub T);

impl<S, T> FromRequest<S> for AdminJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // The router's `DefaultBodyLimit` makes the read stop at the cap.
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::invalid(format!(
                    "could not read the request body: {}",
                    r.body_text()
                ))
            }
        })?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        // Serde would also read a struct from an array (`[1,2]`), with a baffling message.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => {
                return Err(ApiError::invalid(
                    "the request body is empty: send a JSON object",
                ))
            }
            Some(b'{') => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "the request body must be a JSON object ({...})",
                ))
            }
        }
        let value = conduit_core::wire_util::parse_json(&bytes, "the expected JSON object")?;
        Ok(Self(value))
    }
}

fn too_large() -> ApiError {
    ApiError(Error::new(
        ErrorKind::RequestTooLarge,
        format!(
            "the request body is larger than {} KiB",
            MAX_BODY_BYTES / 1024
        ),
    ))
}
