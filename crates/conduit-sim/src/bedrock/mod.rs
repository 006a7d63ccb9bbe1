//! Amazon Bedrock runtime: `invoke`, `invoke-with-response-stream` and `count-tokens` for the
//! Anthropic models, with real SigV4 (or API key) checks, the body rules, prompt-cache usage,
//! event-stream chunks and injected faults. See docs/simulator.md "Bedrock runtime".

pub(crate) mod auth;
pub(crate) mod body;
mod sigv4;
pub(crate) mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::arn::{ApiRegion, RawPath};
use crate::chat::MatchedRule;
use crate::messages::answer::{self, Answer, Call};
pub use crate::messages::faults::{BedrockFault, FaultKind, FaultService};
use crate::messages::fold::{self, Broken};
use crate::messages::reply::random_id;
use crate::messages::{cache, LogExtra};
use crate::model::HttpError;
use crate::state::Shared;
use body::Op;

/// The sim's default SigV4 access key id.
pub const TEST_ACCESS_KEY_ID: &str = "AKIACONDUITSIMTEST01";
/// The secret of [`TEST_ACCESS_KEY_ID`].
pub const TEST_SECRET_ACCESS_KEY: &str = "conduitSimTestSecretKey/0123456789EXAMPLE";
/// The sim's default Bedrock API key (`Authorization: Bearer`).
pub const TEST_BEDROCK_API_KEY: &str = "ABSKY29uZHVpdC1zaW0tdGVzdC1rZXk=";
/// The default `bedrock_models` (foundation ids).
pub const DEFAULT_MODELS: [&str; 7] = [
    "anthropic.claude-opus-4-7",
    "anthropic.claude-opus-4-6-v1",
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-opus-5-5",
    "anthropic.claude-sonnet-5",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
];
/// The default `bedrock_rejected_betas`.
pub const DEFAULT_REJECTED_BETAS: [&str; 6] = [
    "oauth-2025-04-20",
    "prompt-caching-scope-2026-01-05",
    "fast-mode-2026-02-01",
    "token-efficient-tools-2026-03-28",
    "redact-thinking-2026-02-12",
    "mcp-servers-2025-12-04",
];

/// The default `bedrock_credentials`: the test key pair.
pub fn default_credentials() -> BTreeMap<String, String> {
    BTreeMap::from([(
        TEST_ACCESS_KEY_ID.to_owned(),
        TEST_SECRET_ACCESS_KEY.to_owned(),
    )])
}

/// A Bedrock REST error: status, `x-amzn-ErrorType: {name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
/// body `{"message": ...}`.
pub(crate) fn error(status: u16, name: &str, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        body: json!({ "message": message.into() }),
        error_type: Some(format!(
            "{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        )),
        retry_after: None,
    }
}

/// The routes, relative to the root or a `/region/{region}` prefix.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/model/{model_id}/invoke", post(invoke))
        .route(
            "/model/{model_id}/invoke-with-response-stream",
            post(invoke_stream),
        )
        .route("/model/{model_id}/count-tokens", post(count_tokens))
}

/// The HTTP answer of an injected fault (not `stream_exception`).
fn fault_error(f: &BedrockFault) -> HttpError {
    let msg = |default: &str| f.message.clone().unwrap_or_else(|| default.to_owned());
    match f.kind {
        FaultKind::Throttle => error(
            429,
            "ThrottlingException",
            msg("Too many requests, please wait before trying again."),
        ),
        FaultKind::Unavailable => error(
            503,
            "ServiceUnavailableException",
            msg("Bedrock is unable to process your request."),
        ),
        FaultKind::AccessDenied => error(
            403,
            "AccessDeniedException",
            msg("You don't have access to the model with the specified model ID."),
        ),
        FaultKind::ModelNotReady | FaultKind::StreamException => error(
            429,
            "ModelNotReadyException",
            msg("Model is not ready to serve inference requests."),
        ),
    }
}

/// Everything an invoke handler extracts.
struct Incoming {
    shared: Arc<Shared>,
    region: ApiRegion,
    raw: RawPath,
    model_id: String,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

fn respond(resp: Response, path: String, usage: Option<Value>, rule: Option<String>) -> Response {
    let mut resp = resp;
    resp.extensions_mut().insert(LogExtra {
        service: "bedrock",
        path: Some(path),
        usage,
    });
    if let Some(id) = rule {
        resp.extensions_mut().insert(MatchedRule(id));
    }
    resp
}

/// Auth, model, body: the checks every operation starts with.
fn checks(inc: &Incoming, op: Op) -> Result<(String, String, Value), HttpError> {
    let config = inc.shared.with(|s| s.config.clone());
    let region = crate::arn::effective_region(&inc.region, config.root_region.as_deref());
    let req = auth::Req {
        method: inc.method.as_str(),
        raw_path: &inc.raw.0,
        query: inc.uri.query(),
        headers: &inc.headers,
        body: &inc.body,
        region: region.as_deref(),
    };
    let token = auth::bedrock(&config, &req)?;
    let foundation = body::resolve_model(&config, &inc.model_id, region.as_deref(), op)?;
    let inner = match op {
        Op::Invoke => inc.body.to_vec(),
        Op::CountTokens => count_input(&inc.body)?,
    };
    let (key, issued) = inc.shared.with(|s| (s.mac_key, s.issued_redacted.clone()));
    let json = body::check_body(&inner, &config, &key, &issued, op == Op::CountTokens)?;
    Ok((token, foundation, json))
}

/// The InvokeModel body inside a CountTokens request.
fn count_input(bytes: &[u8]) -> Result<Vec<u8>, HttpError> {
    let malformed = || {
        error(
            400,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        )
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    let b64 = v
        .pointer("/input/invokeModel/body")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?;
    B64.decode(b64).map_err(|_| malformed())
}

async fn run(inc: Incoming, streaming: bool) -> Response {
    let op = if streaming {
        "invoke-with-response-stream"
    } else {
        "invoke"
    };
    let path = format!("/model/{}/{op}", inc.model_id);
    let (token, foundation, json) = match checks(&inc, Op::Invoke) {
        Ok(x) => x,
        Err(e) => return respond(e.into_response(), path, None, None),
    };
    let fault = inc.shared.with(|s| {
        s.take_fault(
            FaultService::Bedrock,
            inc.region.0.as_deref(),
            &[&inc.model_id, &foundation],
            streaming,
        )
    });
    if let Some(f) = fault
        .as_ref()
        .filter(|f| f.kind != FaultKind::StreamException)
    {
        return respond(fault_error(f).into_response(), path, None, None);
    }
    let call = Call {
        body: &json,
        rule_model: &inc.model_id,
        token: &token,
        cache_key: format!("bedrock/{foundation}"),
        reply_model: foundation.trim_start_matches("anthropic.").to_owned(),
        message_id: random_id("msg_bdrk_"),
        bedrock: true,
        streaming,
    };
    let (reply, usage, rule) = match answer::answer(&inc.shared, &call) {
        Answer::Error(e, rule) => return respond(e.into_response(), path, None, rule),
        Answer::Reply { reply, usage, rule } => (reply, usage, rule),
    };
    let mut items = reply.items;
    if let Some(f) = fault {
        let kind = f
            .exception
            .unwrap_or_else(|| "throttlingException".to_owned());
        let message = f
            .message
            .unwrap_or_else(|| "Too many requests, please wait before trying again.".to_owned());
        items = answer::cut_after(items, f.after_events.unwrap_or(2), kind, message);
    }
    let reported = answer::reported_usage(&items, usage, reply.output_tokens);
    if streaming {
        let resp = match stream::actions(&items) {
            Ok(actions) => {
                let mut resp = Response::new(answer::stream_body(actions));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.amazon.eventstream"),
                );
                resp.headers_mut().insert(
                    "x-amzn-bedrock-content-type",
                    HeaderValue::from_static("application/json"),
                );
                resp
            }
            Err(e) => error(500, "InternalServerException", e.to_string()).into_response(),
        };
        return respond(resp, path, reported, rule);
    }
    match fold::message(&items) {
        Ok(msg) => {
            let mut resp = (StatusCode::OK, Json(msg)).into_response();
            let h = resp.headers_mut();
            h.insert(
                "x-amzn-bedrock-input-token-count",
                HeaderValue::from(usage.input_tokens),
            );
            h.insert(
                "x-amzn-bedrock-output-token-count",
                HeaderValue::from(reply.output_tokens),
            );
            h.insert(
                "x-amzn-bedrock-cache-read-input-token-count",
                HeaderValue::from(usage.cache_read_input_tokens),
            );
            h.insert(
                "x-amzn-bedrock-cache-write-input-token-count",
                HeaderValue::from(usage.cache_creation_input_tokens),
            );
            respond(resp, path, reported, rule)
        }
        Err(Broken::Exception { kind, message }) => {
            let (status, name) = stream::exception_status(&kind);
            respond(
                error(status, &name, message).into_response(),
                path,
                None,
                rule,
            )
        }
        Err(Broken::Cut) => {
            let e = error(
                500,
                "InternalServerException",
                "The server encountered an internal error.",
            );
            respond(e.into_response(), path, None, rule)
        }
    }
}

/// Split a request into what the checks need (the body is already buffered by the log layer).
async fn incoming(shared: Arc<Shared>, model_id: String, req: Request) -> Incoming {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    Incoming {
        shared,
        region: parts
            .extensions
            .get::<ApiRegion>()
            .cloned()
            .unwrap_or_default(),
        raw: parts
            .extensions
            .get::<RawPath>()
            .cloned()
            .unwrap_or_default(),
        model_id,
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
    }
}

/// `POST /model/{modelId}/invoke`.
async fn invoke(State(s): State<Arc<Shared>>, Path(id): Path<String>, req: Request) -> Response {
    run(incoming(s, id, req).await, false).await
}

/// `POST /model/{modelId}/invoke-with-response-stream`.
async fn invoke_stream(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    run(incoming(s, id, req).await, true).await
}

/// `POST /model/{modelId}/count-tokens`: `{"inputTokens": N}` with N the total input the same
/// InvokeModel body would report.
async fn count_tokens(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let inc = incoming(s, id, req).await;
    let path = format!("/model/{}/count-tokens", inc.model_id);
    match checks(&inc, Op::CountTokens) {
        Ok((_, foundation, json)) => {
            let m = cache::measure(&format!("bedrock/{foundation}"), &json);
            let resp = Json(json!({ "inputTokens": m.total_tokens })).into_response();
            respond(resp, path, None, None)
        }
        Err(e) => respond(e.into_response(), path, None, None),
    }
}
