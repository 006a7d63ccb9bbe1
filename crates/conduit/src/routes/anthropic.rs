//! Anthropic Messages handlers: decode → send upstream → relay. Each stays a few lines; the
//! work happens in the dialect crate, the upstream and [`crate::relay`].

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_anthropic::{RequestHeaders, SseEncoder};
use conduit_core::{Error, ErrorKind};

use crate::logging::RequestRecord;
use crate::relay;
use crate::state::{RelaySettings, Upstreams};

pub async fn messages(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages", relay.debug_mode);
    record.keep_body(&body);
    let request = match conduit_anthropic::decode_request(&body, &request_headers(&headers)) {
        Ok(r) => r,
        Err(e) => return failed(record, &e),
    };
    record.set_model(&request.model);
    let streaming = request.stream;
    let stream = match upstreams.0.send(request).await {
        Ok(s) => s,
        Err(e) => return failed(record, &e),
    };
    if streaming {
        let body = relay::sse_body(stream, SseEncoder::new(), relay.ping_interval, record);
        return sse_response(body);
    }
    match conduit_core::collect(stream).await {
        Ok(response) => {
            record.set_usage(response.usage);
            record.set_status(200);
            record.finish();
            json_response(StatusCode::OK, conduit_anthropic::response_body(&response))
        }
        Err(e) => failed(record, &e),
    }
}

pub async fn count_tokens(State(relay): State<RelaySettings>, body: Bytes) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages/count_tokens", relay.debug_mode);
    record.keep_body(&body);
    match conduit_anthropic::decode_count_tokens(&body) {
        Ok(request) => {
            record.set_model(&request.model);
            record.set_status(200);
            let n = conduit_core::tokens::count_request(&request);
            json_response(StatusCode::OK, conduit_anthropic::count_tokens_body(n))
        }
        Err(e) => failed(record, &e),
    }
}

pub async fn models(State(upstreams): State<Upstreams>) -> Response {
    json_response(
        StatusCode::OK,
        conduit_anthropic::models_body(&upstreams.0.models()),
    )
}

pub async fn not_found() -> Response {
    error_response(&Error::new(
        ErrorKind::NotFound,
        "no such endpoint: conduit serves /v1/messages, /v1/messages/count_tokens, /v1/models and /health",
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

fn failed(mut record: RequestRecord, error: &Error) -> Response {
    let response = error_response(error);
    record.fail(response.status().as_u16(), error);
    record.finish();
    response
}

/// An error in Anthropic's JSON shape with its status code.
pub fn error_response(error: &Error) -> Response {
    let (status, body) = conduit_anthropic::error_body(error);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, body)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn sse_response(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}
