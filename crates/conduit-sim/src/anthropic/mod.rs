//! The Anthropic Messages API (`/anthropic/v1/...`) and Claude Platform on AWS
//! (`/aws-external-anthropic/v1/...`, SigV4 service `aws-external-anthropic` or `x-api-key`,
//! header `anthropic-workspace-id` required). Same rule engine, thinking signatures and cache
//! accounting as the Bedrock runtime; SSE with pings.

mod sse;

use std::sync::Arc;
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::arn::{ApiRegion, RawPath};
use crate::bedrock::auth;
use crate::chat::MatchedRule;
use crate::config::SimConfig;
use crate::messages::answer::{self, Answer, Call};
use crate::messages::faults::{BedrockFault, FaultKind, FaultService};
use crate::messages::fold::{self, Broken};
use crate::messages::reply::random_id;
use crate::messages::{cache, LogExtra};
use crate::model::HttpError;
use crate::state::Shared;

/// The sim's default Anthropic API key (`x-api-key`).
pub const TEST_API_KEY: &str = "sk-ant-api03-conduit-sim-test";
/// The default `anthropic_models` (first-party names; `-YYYYMMDD` forms are accepted too).
pub const DEFAULT_MODELS: [&str; 5] = [
    "claude-opus-4-7",
    "claude-sonnet-4-6",
    "claude-opus-5-5",
    "claude-sonnet-5",
    "claude-haiku-4-5",
];
/// The SigV4 service name of Claude Platform on AWS.
pub const AWS_SIGNING_SERVICE: &str = "aws-external-anthropic";

/// Which front door a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    Api,
    Aws,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/anthropic/v1/messages",
            post(|s: State<Arc<Shared>>, r: Request| messages(s, r, Door::Api, false)),
        )
        .route(
            "/anthropic/v1/messages/count_tokens",
            post(|s: State<Arc<Shared>>, r: Request| messages(s, r, Door::Api, true)),
        )
        .route(
            "/anthropic/v1/models",
            get(|s: State<Arc<Shared>>, r: Request| models(s, r, Door::Api)),
        )
        .route(
            "/aws-external-anthropic/v1/messages",
            post(|s: State<Arc<Shared>>, r: Request| messages(s, r, Door::Aws, false)),
        )
        .route(
            "/aws-external-anthropic/v1/messages/count_tokens",
            post(|s: State<Arc<Shared>>, r: Request| messages(s, r, Door::Aws, true)),
        )
        .route(
            "/aws-external-anthropic/v1/models",
            get(|s: State<Arc<Shared>>, r: Request| models(s, r, Door::Aws)),
        )
}

/// `{"type":"error","error":{"type":..,"message":..},"request_id":"req_..."}` (no AWS error header).
pub(crate) fn error(status: u16, kind: &str, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        body: json!({"type": "error", "error": {"type": kind, "message": message.into()},
                     "request_id": random_id("req_")}),
        error_type: Some(String::new()),
        retry_after: None,
    }
}

fn invalid(message: impl Into<String>) -> HttpError {
    error(400, "invalid_request_error", message)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The known model behind a name (exact, or a known name plus `-YYYYMMDD`).
fn resolve_model<'a>(config: &'a SimConfig, name: &str) -> Option<&'a str> {
    config
        .anthropic_models
        .iter()
        .map(String::as_str)
        .find(|m| {
            name == *m
                || name
                    .strip_prefix(m)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Auth and the headers every call needs; the caller's key.
fn gate(config: &SimConfig, door: Door, req: &auth::Req<'_>) -> Result<String, HttpError> {
    let sigv4 = auth::authorization(req.headers).filter(|a| a.starts_with("AWS4-HMAC-SHA256"));
    let key = match (door, sigv4) {
        (Door::Aws, Some(a)) => auth::sigv4(config, req, a, &[AWS_SIGNING_SERVICE.to_owned()])
            .map_err(auth::sigv4_error)?,
        _ => {
            let key = header_str(req.headers, "x-api-key").unwrap_or("");
            if !config.anthropic_api_keys.iter().any(|k| k == key) {
                return Err(error(401, "authentication_error", "invalid x-api-key"));
            }
            key.to_owned()
        }
    };
    if header_str(req.headers, "anthropic-version").is_none() {
        return Err(invalid("anthropic-version: header is required"));
    }
    if door == Door::Aws && header_str(req.headers, "anthropic-workspace-id").is_none() {
        return Err(invalid("anthropic-workspace-id: header is required"));
    }
    Ok(key)
}

fn fault_error(f: &BedrockFault) -> HttpError {
    let msg = |d: &str| f.message.clone().unwrap_or_else(|| d.to_owned());
    match f.kind {
        FaultKind::Throttle => error(
            429,
            "rate_limit_error",
            msg("Number of requests has exceeded your rate limit. Please try again later."),
        ),
        FaultKind::AccessDenied => error(
            403,
            "permission_error",
            msg("Your API key does not have permission to use the specified resource."),
        ),
        FaultKind::Unavailable | FaultKind::ModelNotReady | FaultKind::StreamException => {
            error(529, "overloaded_error", msg("Overloaded"))
        }
    }
}

struct Checked {
    key: String,
    model: String,
    base: String,
    body: Value,
}

fn checks(
    shared: &Shared,
    door: Door,
    req: &auth::Req<'_>,
    count: bool,
) -> Result<Checked, HttpError> {
    let config = shared.with(|s| s.config.clone());
    let key = gate(&config, door, req)?;
    let body: Value = serde_json::from_slice(req.body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid("There was an issue with your request body: invalid JSON."))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("model: Field required"))?;
    let base = resolve_model(&config, model)
        .ok_or_else(|| error(404, "not_found_error", format!("model: {model}")))?
        .to_owned();
    let betas = header_str(req.headers, "anthropic-beta").unwrap_or("");
    if let Some(b) = betas
        .split(',')
        .map(str::trim)
        .find(|b| config.anthropic_rejected_betas.iter().any(|r| r == b))
    {
        return Err(invalid(format!("Unexpected value(s) `{b}` for the `anthropic-beta` header. Please consult our documentation at docs.claude.com or try again without the header.")));
    }
    if body.get("messages").is_none() {
        return Err(invalid("messages: Field required"));
    }
    if !count && body.get("max_tokens").is_none_or(Value::is_null) {
        return Err(invalid("max_tokens: Field required"));
    }
    cache::check_ttls(&body).map_err(invalid)?;
    shared
        .with(|s| crate::messages::view::check_signatures(&body, &s.mac_key, &s.issued_redacted))
        .map_err(invalid)?;
    Ok(Checked {
        key,
        model: model.to_owned(),
        base,
        body,
    })
}

fn respond(mut resp: Response, usage: Option<Value>, rule: Option<String>) -> Response {
    resp.extensions_mut().insert(LogExtra {
        service: "anthropic",
        path: None,
        usage,
    });
    if let Some(id) = rule {
        resp.extensions_mut().insert(MatchedRule(id));
    }
    if let Ok(v) = HeaderValue::from_str(&random_id("req_")) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    req: Request,
    door: Door,
    count: bool,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let region = parts
        .extensions
        .get::<ApiRegion>()
        .cloned()
        .unwrap_or_default();
    let raw = parts
        .extensions
        .get::<RawPath>()
        .cloned()
        .unwrap_or_default();
    let root_region = shared.with(|s| s.config.root_region.clone());
    let eff_region = crate::arn::effective_region(&region, root_region.as_deref());
    let r = auth::Req {
        method: parts.method.as_str(),
        raw_path: &raw.0,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
        region: eff_region.as_deref(),
    };
    let c = match checks(&shared, door, &r, count) {
        Ok(c) => c,
        Err(e) => return respond(e.into_response(), None, None),
    };
    let cache_key = format!("anthropic/{}", c.base);
    if count {
        let m = cache::measure(&cache_key, &c.body);
        return respond(
            Json(json!({"input_tokens": m.total_tokens})).into_response(),
            None,
            None,
        );
    }
    let fault = shared.with(|s| {
        s.take_fault(
            FaultService::Anthropic,
            region.0.as_deref(),
            &[&c.model, &c.base],
            true,
        )
    });
    if let Some(f) = fault
        .as_ref()
        .filter(|f| f.kind != FaultKind::StreamException)
    {
        return respond(fault_error(f).into_response(), None, None);
    }
    let streaming = c.body.get("stream").and_then(Value::as_bool) == Some(true);
    let call = Call {
        body: &c.body,
        rule_model: &c.model,
        token: &c.key,
        cache_key,
        reply_model: c.model.clone(),
        message_id: random_id("msg_"),
        bedrock: false,
        streaming,
    };
    let (reply, usage, rule) = match answer::answer(&shared, &call) {
        Answer::Error(e, rule) => return respond(e.into_response(), None, rule),
        Answer::Reply { reply, usage, rule } => (reply, usage, rule),
    };
    let mut items = reply.items;
    if let Some(f) = fault {
        let kind = f.exception.unwrap_or_else(|| "overloaded_error".to_owned());
        let message = f.message.unwrap_or_else(|| "Overloaded".to_owned());
        items = answer::cut_after(items, f.after_events.unwrap_or(2), kind, message);
    }
    let reported = answer::reported_usage(&items, usage, reply.output_tokens);
    if streaming {
        let every = Duration::from_millis(shared.with(|s| s.config.anthropic_ping_interval_ms));
        let mut resp = Response::new(answer::stream_body(sse::actions(&items, every)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return respond(resp, reported, rule);
    }
    match fold::message(&items) {
        Ok(msg) => respond((StatusCode::OK, Json(msg)).into_response(), reported, rule),
        Err(Broken::Exception { kind, message }) => {
            let (status, t) = sse::error_type(&kind);
            respond(error(status, t, message).into_response(), None, rule)
        }
        Err(Broken::Cut) => respond(
            error(500, "api_error", "Internal server error").into_response(),
            None,
            rule,
        ),
    }
}

/// `GET /v1/models`.
async fn models(State(shared): State<Arc<Shared>>, req: Request, door: Door) -> Response {
    let (parts, _) = req.into_parts();
    let raw = parts
        .extensions
        .get::<RawPath>()
        .cloned()
        .unwrap_or_default();
    let config = shared.with(|s| s.config.clone());
    let r = auth::Req {
        method: parts.method.as_str(),
        raw_path: &raw.0,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: b"",
        region: None,
    };
    if let Err(e) = gate(&config, door, &r) {
        return respond(e.into_response(), None, None);
    }
    let data: Vec<Value> = config
        .anthropic_models
        .iter()
        .map(|m| json!({"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}))
        .collect();
    let body = json!({"data": data, "has_more": false,
        "first_id": config.anthropic_models.first(), "last_id": config.anthropic_models.last()});
    respond(Json(body).into_response(), None, None)
}
