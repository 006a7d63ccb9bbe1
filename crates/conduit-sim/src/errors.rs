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
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After: secs` header.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
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
        // A JSON string body goes out as plain text, null as no body at all.
        let mut resp = match self.body {
            Value::Null => status.into_response(),
            Value::String(text) => (status, text).into_response(),
            body => (status, Json(body)).into_response(),
        };
        if !kind.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&kind) {
                resp.headers_mut().insert("x-amzn-errortype", v);
            }
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
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

// --- The late-2026 catalogue (spec §9.6) -------------------------------------------------

/// The account id the sim puts in risk-control and suspension messages.
pub const SIM_USER_ID: &str = "d-9067c8a2f1";

/// 429 risk control on one account: `Due to suspicious activity, ...` (spec §9.6).
pub fn suspicious_activity() -> HttpError {
    suspicious_activity_for(SIM_USER_ID)
}

/// [`suspicious_activity`] naming this account id.
pub fn suspicious_activity_for(user: &str) -> HttpError {
    kiro(
        429,
        &format!(
            "Due to suspicious activity, we are imposing temporary limits on how frequently your \
             account ({user}) can send a request to Kiro while we investigate."
        ),
        None,
        "ThrottlingException",
    )
}

/// 403 account suspended: `Your User ID (...) temporarily is suspended. ...` (spec §9.6).
pub fn suspended() -> HttpError {
    suspended_for(SIM_USER_ID)
}

/// [`suspended`] naming this account id.
pub fn suspended_for(user: &str) -> HttpError {
    HttpError::new(
        403,
        json!({"__type": "com.amazon.aws.codewhisperer#AccessDeniedException",
               "message": format!("Your User ID ({user}) temporarily is suspended. We've locked your \
                   account as a security precaution. To restore access, please contact our support \
                   team to verify your identity: https://aws.amazon.com/contact-us/")}),
        "AccessDeniedException",
    )
}

const OVERAGE_MESSAGE: &str = "You have reached the limit for overages.";

/// 402 reason `OVERAGE_REQUEST_LIMIT_EXCEEDED` (top-level).
pub fn overage_limit() -> HttpError {
    kiro(
        402,
        OVERAGE_MESSAGE,
        Some("OVERAGE_REQUEST_LIMIT_EXCEEDED"),
        "ServiceQuotaExceededException",
    )
}

/// The 400 variant of [`overage_limit`], with the reason nested as `error.reason`.
pub fn overage_limit_400() -> HttpError {
    HttpError::new(
        400,
        json!({"__type": "ServiceQuotaExceededException",
               "error": {"message": OVERAGE_MESSAGE, "reason": "OVERAGE_REQUEST_LIMIT_EXCEEDED"}}),
        "ServiceQuotaExceededException",
    )
}

/// The message of the real top-level-combinator check.
pub const TOOL_SCHEMA_TOP_LEVEL: &str =
    "input_schema does not support oneOf, allOf, or anyOf at the top level";

/// 400 `TOOL_SCHEMA_INVALID` with this message (spec §9.6).
pub fn tool_schema_invalid(message: &str) -> HttpError {
    HttpError::new(
        400,
        json!({"__type": "ValidationException", "message": message, "reason": "TOOL_SCHEMA_INVALID"}),
        "ValidationException",
    )
}

fn tool_use_result_mismatch_with(status: u16, kind: &str) -> HttpError {
    kiro(
        status,
        "Expected toolResult blocks at messages.2.content for the following Ids: \
         tooluse_simMismatch000000000",
        Some("TOOL_USE_RESULT_MISMATCH"),
        kind,
    )
}

/// 400 reason `TOOL_USE_RESULT_MISMATCH` (`Expected toolResult blocks ...`).
pub fn tool_use_result_mismatch() -> HttpError {
    tool_use_result_mismatch_with(400, "ValidationException")
}

/// The same pairing error arriving as a 503 (spec §9.6: still a client error).
pub fn tool_use_result_mismatch_503() -> HttpError {
    tool_use_result_mismatch_with(503, "ServiceUnavailableException")
}

/// 500 reason `MODEL_TEMPORARILY_UNAVAILABLE` with the high-load message.
pub fn model_temporarily_unavailable() -> HttpError {
    kiro(
        500,
        "Encountered unexpectedly high load when processing the request, please try again.",
        Some("MODEL_TEMPORARILY_UNAVAILABLE"),
        "InternalServerException",
    )
}

/// 524 with no body and no `x-amzn-errortype` (an edge timeout in front of the service).
pub fn gateway_timeout_524() -> HttpError {
    HttpError::new(524, Value::Null, "")
}

/// 400 ``Invalid `signature` in `thinking` block`` reason `THINKING_SIGNATURE_INVALID`.
pub fn thinking_signature_invalid() -> HttpError {
    kiro(
        400,
        "Invalid `signature` in `thinking` block",
        Some("THINKING_SIGNATURE_INVALID"),
        "ValidationException",
    )
}

/// 400 `Improperly formed request.` reason `REQUEST_BODY_INVALID` (bad reasoning replay).
pub fn request_body_invalid() -> HttpError {
    kiro(
        400,
        "Improperly formed request.",
        Some("REQUEST_BODY_INVALID"),
        "ValidationException",
    )
}

/// 400 `additionalModelRequestFields is not supported for this model`.
pub fn additional_fields_unsupported() -> HttpError {
    kiro(
        400,
        "additionalModelRequestFields is not supported for this model",
        None,
        "ValidationException",
    )
}

/// 400 `Invalid additionalModelRequestFields` (the fields break the model's schema).
pub fn additional_fields_invalid() -> HttpError {
    kiro(
        400,
        "Invalid additionalModelRequestFields",
        None,
        "ValidationException",
    )
}

/// 400 `Input is too long.` — the same answer as [`context_overflow`].
pub fn input_too_long() -> HttpError {
    context_overflow()
}

/// 429 from a token endpoint while `refresh_throttle` lasts, with `Retry-After: 1`.
pub fn refresh_throttled() -> HttpError {
    HttpError::new(
        429,
        json!({"message": "Rate exceeded", "reason": null}),
        "ThrottlingException",
    )
    .with_retry_after(1)
}

/// The Entra ID token endpoint's answer to a dead refresh token.
pub fn idp_invalid_grant() -> HttpError {
    HttpError::new(
        400,
        json!({"error": "invalid_grant",
               "error_description": "AADSTS70000: The provided grant is invalid or expired. \
                   Trace ID: 00000000-0000-0000-0000-000000000000"}),
        "",
    )
}
