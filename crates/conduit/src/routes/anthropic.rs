//! Anthropic Messages handlers: decode, then the router; a canonical answer goes through the
//! shared phases in [`super::turn`], a Messages-lane answer (Bedrock, the Anthropic API) through
//! [`crate::passthrough`] as the upstream wrote it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use conduit_anthropic::{RequestHeaders, SseEncoder};
use conduit_core::{Error, ErrorKind, MessagesReply};
use conduit_upstream::router::{Lane, RawMessages};

use super::turn::{self, Turn};
use crate::logging::RequestRecord;
use crate::passthrough;
use crate::state::{RelaySettings, Upstreams};
use crate::team::spend::meter::Meter;
use crate::team::Principal;

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
    caller: Option<Extension<Principal>>,
    meter: Option<Extension<Meter>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages", relay.debug_mode);
    record.set_caller(caller.as_deref());
    record.set_meter(meter.as_deref());
    record.keep_body(&body);
    record.set_agent(
        headers
            .get("x-claude-code-agent-id")
            .and_then(|v| v.to_str().ok()),
    );
    let decoded = conduit_anthropic::decode_request(&body, &request_headers(&headers))
        .map(|request| (raw_messages(&body, &headers, request.stream), request));
    let (raw, request) = match decoded {
        Ok(d) => d,
        Err(e) => return turn::failed(record, &e, error_response(&e)),
    };
    record.set_model(&request.model);
    let streaming = request.stream;
    let routed = match upstreams.0.send_anthropic(request, raw).await {
        Ok(r) => r,
        Err(e) => return turn::failed(record, &e, error_response(&e)),
    };
    record.set_route(&routed.upstream, &routed.model.upstream);
    match routed.value {
        Lane::Canonical(stream) => turn::deliver(stream, streaming, relay, record, Messages).await,
        Lane::Messages(MessagesReply::Stream(stream)) => {
            match passthrough::until_content(stream).await {
                Ok(stream) => passthrough::sse(stream, relay.ping_interval, record),
                Err(e) => turn::failed(record, &e, error_response(&e)),
            }
        }
        Lane::Messages(MessagesReply::Json(body)) => passthrough::json(body, record),
    }
}

/// Counts the request as the upstream will see it: exactly, by the upstream's own count, when
/// it speaks Messages (Bedrock CountTokens, the Anthropic API); else after its conversion
/// (Kiro), so that clients size compaction on the prompt that is really sent.
pub async fn count_tokens(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    caller: Option<Extension<Principal>>,
    meter: Option<Extension<Meter>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/messages/count_tokens", relay.debug_mode);
    record.set_caller(caller.as_deref());
    record.set_meter(meter.as_deref());
    record.keep_body(&body);
    let decoded = conduit_anthropic::decode_count_tokens(&body)
        .map(|request| (raw_messages(&body, &headers, false), request));
    match decoded {
        Ok((raw, request)) => {
            record.set_model(&request.model);
            record.set_status(200);
            let n = upstreams.0.count_tokens(&request, Some(raw)).await;
            turn::json_response(StatusCode::OK, conduit_anthropic::count_tokens_body(n))
        }
        Err(e) => turn::failed(record, &e, error_response(&e)),
    }
}

/// Headers an Anthropic client sends that an upstream speaking Messages must see as sent.
const PASS_THROUGH: [&str; 3] = [
    "anthropic-beta",
    "anthropic-version",
    "anthropic-workspace-id",
];

/// The client's body (shared, not copied) and pass-through headers as they came, for the
/// Messages lane, which parses the body only if an upstream of that lane takes the request.
fn raw_messages(body: &Bytes, headers: &HeaderMap, stream: bool) -> RawMessages {
    let headers = PASS_THROUGH
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(|v| ((*name).to_owned(), v.to_owned()))
        })
        .collect();
    RawMessages {
        body: body.clone(),
        headers,
        stream,
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

/// An error in Anthropic's JSON shape with its status code; an upstream's own Anthropic error
/// (the Anthropic API's) exactly as it answered.
pub fn error_response(error: &Error) -> Response {
    if let Some(raw) = error.raw.as_deref().filter(|r| r.dialect == "anthropic") {
        let status = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::BAD_GATEWAY);
        return turn::json_response(status, raw.body.to_vec());
    }
    turn::error_with(error, conduit_anthropic::error_body)
}
