//! Anthropic Messages handlers: decode, then the shared phases in [`super::turn`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use conduit_anthropic::{RequestHeaders, SseEncoder};
use conduit_core::{Error, ErrorKind};

use super::turn::{self, Turn};
use crate::logging::RequestRecord;
use crate::state::{RelaySettings, Upstreams};

struct Messages;

impl Turn for Messages {
    type Sse = SseEncoder;
    fn error(&self, error: &Error) -> Response {
        error_response(error)
    }
    fn body(&self, response: &conduit_core::Response) -> Vec<u8> {
        conduit_anthropic::response_body(response)
    }
    fn into_sse(self) -> SseEncoder {
        SseEncoder::new()
    }
}

pub async fn messages(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages", relay.debug_mode);
    record.keep_body(&body);
    record.set_agent(
        headers
            .get("x-claude-code-agent-id")
            .and_then(|v| v.to_str().ok()),
    );
    match conduit_anthropic::decode_request(&body, &request_headers(&headers)) {
        Ok(request) => turn::run(&upstreams, relay, record, request, Messages).await,
        Err(e) => turn::failed(record, &e, error_response(&e)),
    }
}

/// Counts the request as the upstream will see it (after its conversion), so that clients size
/// compaction on the prompt that is really sent.
pub async fn count_tokens(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages/count_tokens", relay.debug_mode);
    record.keep_body(&body);
    match conduit_anthropic::decode_count_tokens(&body) {
        Ok(request) => {
            record.set_model(&request.model);
            record.set_status(200);
            let n = upstreams.0.count_tokens(&request);
            turn::json_response(StatusCode::OK, conduit_anthropic::count_tokens_body(n))
        }
        Err(e) => turn::failed(record, &e, error_response(&e)),
    }
}

pub async fn not_found() -> Response {
    error_response(&Error::new(
        ErrorKind::NotFound,
        "no such endpoint: conduit serves /v1/messages, /v1/messages/count_tokens, \
         /v1/chat/completions, /v1/responses, /v1/models and /health",
    ))
}

fn request_headers(headers: &HeaderMap) -> RequestHeaders {
    RequestHeaders {
        session_id: headers
            .get("x-claude-code-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// An error in Anthropic's JSON shape with its status code.
pub fn error_response(error: &Error) -> Response {
    turn::error_with(error, conduit_anthropic::error_body)
}
