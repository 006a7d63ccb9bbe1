//! The OpenAI dialects: Chat Completions (`/v1/chat/completions`, [`chat`]) and Responses
//! (`/v1/responses`, [`responses`]) bodies to the canonical [`conduit_core::Request`], and
//! canonical events, responses, errors and model lists back to OpenAI's wire formats. Pure
//! functions over bytes (plus the bounded in-memory store that `previous_response_id` needs); no
//! HTTP framework.

pub mod chat;
mod common;
pub mod responses;

use conduit_core::{Error, ModelInfo};
use serde::Serialize;

pub use common::error_parts;

/// Status and body of an error response, in OpenAI's shape:
/// `{"error":{"message":...,"type":...,"param":null,"code":...}}`.
///
/// | kind | status | type | code |
/// |---|---|---|---|
/// | InvalidRequest | 400 | invalid_request_error | null |
/// | ContextOverflow | 400 | invalid_request_error | context_length_exceeded |
/// | Authentication | 401 | invalid_request_error | invalid_api_key |
/// | Credentials | 403 | permission_error | upstream_credentials_unavailable |
/// | PermissionDenied | 403 | permission_error | null |
/// | NotFound | 404 | invalid_request_error | not_found |
/// | RequestTooLarge | 413 | invalid_request_error | request_too_large |
/// | RateLimited | 429 | rate_limit_error | rate_limit_exceeded |
/// | Overloaded | 503 | server_error | server_is_overloaded |
/// | Timeout | 504 | server_error | timeout |
/// | UpstreamProtocol | 502 | server_error | bad_gateway |
/// | Internal | 500 | server_error | null |
pub fn error_body(e: &Error) -> (u16, Vec<u8>) {
    let (status, _, _) = error_parts(&e.kind);
    (status, common::to_json(&common::ErrorEnvelope::new(e)))
}

#[derive(Serialize)]
struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize)]
struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

/// `created` for every listed model: upstreams do not tell us release dates (2025-01-01).
const MODEL_CREATED: u64 = 1_735_689_600;

/// `GET /v1/models` in OpenAI's shape: `{"object":"list","data":[{"id","object":"model",
/// "created","owned_by"}]}`.
pub fn models_body(models: &[ModelInfo]) -> Vec<u8> {
    let data = models
        .iter()
        .map(|m| Model {
            id: m.id.clone(),
            object: "model",
            created: MODEL_CREATED,
            owned_by: "anthropic",
        })
        .collect();
    common::to_json(&ModelList {
        object: "list",
        data,
    })
}
