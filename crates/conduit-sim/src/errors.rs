//! The real error answers of the Kiro and AWS services, as presets and as an axum response.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::model::HttpError;

impl HttpError {
    pub fn new(status: u16, body: Value, error_type: &str) -> Self {
        HttpError {
            status,
            body,
            error_type: Some(error_type.to_owned()),
        }
    }

    fn default_type(&self) -> &'static str {
        match self.status {
            400 => "ValidationException",
            401 => "UnauthorizedException",
            402 => "ServiceQuotaExceededException",
            403 => "AccessDeniedException",
            404 => "ResourceNotFoundException",
            429 => "ThrottlingException",
            503 => "ServiceUnavailableException",
            _ => "InternalServerException",
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = self
            .error_type
            .clone()
            .unwrap_or_else(|| self.default_type().to_owned());
        let mut resp = (status, Json(self.body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&kind) {
            resp.headers_mut().insert("x-amzn-errortype", v);
        }
        resp
    }
}

fn kiro(status: u16, message: &str, reason: Option<&str>, kind: &str) -> HttpError {
    HttpError::new(status, json!({"message": message, "reason": reason}), kind)
}

/// 400 `Improperly formed request.` — any shape violation (spec §3.4, §6.1).
pub fn improperly_formed() -> HttpError {
    kiro(
        400,
        "Improperly formed request.",
        None,
        "ValidationException",
    )
}

/// 400 `profileArn is required for this request.`
pub fn profile_arn_required() -> HttpError {
    kiro(
        400,
        "profileArn is required for this request.",
        None,
        "ValidationException",
    )
}

/// 400 reason `INVALID_MODEL_ID`.
pub fn invalid_model() -> HttpError {
    kiro(
        400,
        "Invalid model. Please select a different model to continue.",
        Some("INVALID_MODEL_ID"),
        "ValidationException",
    )
}

/// 400 `Input is too long.` reason `CONTENT_LENGTH_EXCEEDS_THRESHOLD` (context overflow).
pub fn context_overflow() -> HttpError {
    kiro(
        400,
        "Input is too long.",
        Some("CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
        "ValidationException",
    )
}

/// 403 `The bearer token included in the request is invalid.`
pub fn invalid_bearer() -> HttpError {
    kiro(
        403,
        "The bearer token included in the request is invalid.",
        None,
        "AccessDeniedException",
    )
}

/// 403 `User is not authorized to make this call.`
pub fn not_authorized() -> HttpError {
    kiro(
        403,
        "User is not authorized to make this call.",
        None,
        "AccessDeniedException",
    )
}

/// 402 `You have reached the limit.` reason `MONTHLY_REQUEST_COUNT`.
pub fn monthly_limit() -> HttpError {
    kiro(
        402,
        "You have reached the limit.",
        Some("MONTHLY_REQUEST_COUNT"),
        "ServiceQuotaExceededException",
    )
}

/// 400 `Maximum Request reached for this month.` with `__type` ThrottlingException (the QCLI variant).
pub fn monthly_limit_400() -> HttpError {
    HttpError::new(
        400,
        json!({"__type": "ThrottlingException", "message": "Maximum Request reached for this month.",
               "reason": "MONTHLY_REQUEST_COUNT"}),
        "ThrottlingException",
    )
}

/// 429 `Too many requests, please wait before trying again.`
pub fn throttling() -> HttpError {
    kiro(
        429,
        "Too many requests, please wait before trying again.",
        None,
        "ThrottlingException",
    )
}

/// 429 reason `INSUFFICIENT_MODEL_CAPACITY`.
pub fn insufficient_capacity() -> HttpError {
    kiro(
        429,
        "I am experiencing high traffic, please try again shortly.",
        Some("INSUFFICIENT_MODEL_CAPACITY"),
        "ThrottlingException",
    )
}

/// 500 `Encountered unexpectedly high load when processing the request, please try again.`
pub fn high_load() -> HttpError {
    kiro(
        500,
        "Encountered unexpectedly high load when processing the request, please try again.",
        None,
        "InternalServerException",
    )
}

/// 500 ServiceUnavailableException `The service is temporarily unavailable. Please try again later.`
pub fn service_unavailable() -> HttpError {
    HttpError::new(
        500,
        json!({"__type": "ServiceUnavailableException",
               "message": "The service is temporarily unavailable. Please try again later."}),
        "ServiceUnavailableException",
    )
}

/// 500 from a token endpoint while `refresh_outage` is on (the service is down, the
/// refresh token is fine).
pub fn token_service_down() -> HttpError {
    HttpError::new(
        500,
        json!({"error": "server_error",
               "error_description": "The token service is temporarily unavailable."}),
        "InternalServerException",
    )
}

/// 400 for an `x-amz-target` the sim does not serve.
pub fn unknown_operation(target: &str) -> HttpError {
    HttpError::new(
        400,
        json!({"__type": "com.amazon.coral.service#UnknownOperationException",
               "message": format!("Unknown operation {target}")}),
        "UnknownOperationException",
    )
}

/// An AWS SSO OIDC error: `{"error","error_description"}` (spec §1.5, §2.3).
pub fn oidc(status: u16, error: &str, description: &str, kind: &str) -> HttpError {
    HttpError::new(
        status,
        json!({"error": error, "error_description": description}),
        kind,
    )
}

pub fn oidc_invalid_request(description: &str) -> HttpError {
    oidc(
        400,
        "invalid_request",
        description,
        "InvalidRequestException",
    )
}

pub fn oidc_invalid_client() -> HttpError {
    oidc(
        401,
        "invalid_client",
        "Invalid client id or client secret.",
        "InvalidClientException",
    )
}

pub fn oidc_invalid_grant(description: &str) -> HttpError {
    oidc(400, "invalid_grant", description, "InvalidGrantException")
}

/// The Kiro desktop auth service's answer to a dead refresh token (spec §1.4).
pub fn desktop_invalid_grant() -> HttpError {
    oidc(
        400,
        "invalid_grant",
        "Invalid refresh token provided",
        "InvalidGrantException",
    )
}
