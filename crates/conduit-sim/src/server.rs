//! The HTTP router: service endpoints, the `/_sim` control API and the request-log layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use bytes::Bytes;
use serde_json::Value;

use crate::arn::{self, ApiRegion};
use crate::chat::{self, MatchedRule};
use crate::messages::LogExtra;
use crate::model::LogEntry;
use crate::state::Shared;
use crate::{control, errors, idp, mgmt, oidc};

/// Bodies above this are refused outright; the Kiro size rule (615 KB) is checked by the chat handler.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

const TARGET_CHAT: &str = "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";
const TARGET_PROFILES: &str = "AmazonCodeWhispererService.ListAvailableProfiles";
const TARGET_MODELS: &str = "AmazonCodeWhispererService.ListAvailableModels";
const TARGET_USAGE: &str = "AmazonCodeWhispererService.GetUsageLimits";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let sim = Router::new()
        .route("/health", get(control::health))
        .route("/reset", post(control::reset))
        .route("/accounts", post(control::add_account))
        .route("/accounts/expire", post(control::expire))
        .route("/accounts/revoke", post(control::revoke))
        .route("/accounts/update", post(control::update))
        .route("/accounts/credits", get(control::credits))
        .route("/models", post(control::add_model))
        .route("/models/{id}", axum::routing::delete(control::delete_model))
        .route("/rules", post(control::add_rule).get(control::list_rules))
        .route("/log", get(control::log))
        .route("/stats", get(control::stats))
        .route("/config", post(control::config))
        .route("/device", get(control::device_page))
        .route("/device/approve", post(control::approve))
        .route("/device/deny", post(control::deny))
        .route("/device/expire", post(control::expire_device))
        .route("/bedrock/faults", post(control::add_fault));
    let services = Router::new()
        .route("/", post(aws_json))
        .route("/generateAssistantResponse", post(rest_chat))
        .route("/ListAvailableModels", get(mgmt::get_models))
        .route("/getUsageLimits", get(mgmt::get_usage))
        .route("/client/register", post(oidc::register))
        .route("/device_authorization", post(oidc::device_authorization))
        .route("/token", post(oidc::create_token))
        .route("/refreshToken", post(oidc::desktop_refresh))
        .route("/{tenant}/oauth2/v2.0/token", post(idp::entra_token))
        .route("/signin", get(idp::signin))
        .route("/oauth/token", post(idp::oauth_token))
        .merge(crate::bedrock::routes())
        .merge(crate::anthropic::routes())
        .nest("/_sim", sim)
        .layer(middleware::from_fn_with_state(shared.clone(), log_layer))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared);
    // The region prefix is stripped before routing, so every service also answers under
    // `/region/{region}/…` (= host `q.{region}.amazonaws.com`).
    Router::new()
        .fallback_service(services)
        .layer(middleware::from_fn(arn::region_layer))
}

fn target(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amz-target").and_then(|v| v.to_str().ok())
}

/// `POST /generateAssistantResponse` (REST binding; the runtime host also sends the target header).
async fn rest_chat(
    State(shared): State<Arc<Shared>>,
    Extension(region): Extension<ApiRegion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match target(&headers) {
        None | Some(TARGET_CHAT) => chat::handle(shared, headers, region, body).await,
        Some(other) => errors::unknown_operation(other).into_response(),
    }
}

/// `POST /` (AWS JSON 1.0 binding): dispatch on `x-amz-target`.
async fn aws_json(
    State(shared): State<Arc<Shared>>,
    Extension(region): Extension<ApiRegion>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(t) = target(&headers).map(str::to_owned) else {
        return errors::unknown_operation("(missing x-amz-target)").into_response();
    };
    match t.as_str() {
        TARGET_CHAT => chat::handle(shared, headers, region, body).await,
        TARGET_PROFILES => mgmt::list_profiles(&shared, &headers, &region),
        TARGET_MODELS => mgmt::list_models(&shared, &headers),
        TARGET_USAGE => {
            let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let rt = parsed
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or("AGENTIC_REQUEST");
            mgmt::usage_limits(&shared, &headers, rt)
        }
        other => errors::unknown_operation(other).into_response(),
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

fn body_json(bytes: &Bytes) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Record every service request (not `/_sim`) with its response status and matched rule,
/// and stamp `x-amzn-requestid` on the response.
async fn log_layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_sim") {
        return next.run(req).await;
    }
    let seq = shared.with(|s| {
        s.next_seq += 1;
        s.next_seq
    });
    shared.stats.request(req.uri().path());
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return errors::improperly_formed().into_response(),
    };
    let mut entry = LogEntry {
        seq,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        target: target(&parts.headers).map(str::to_owned),
        headers: header_map(&parts.headers),
        body: body_json(&bytes),
        status: 0,
        rule: None,
        region: parts
            .extensions
            .get::<ApiRegion>()
            .and_then(|r| r.0.clone()),
        service: Some("kiro".to_owned()),
        usage: None,
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut resp = next.run(req).await;
    entry.status = resp.status().as_u16();
    entry.rule = resp.extensions().get::<MatchedRule>().map(|r| r.0.clone());
    if let Some(extra) = resp.extensions().get::<LogExtra>() {
        entry.service = Some(extra.service.to_owned());
        if let Some(p) = &extra.path {
            entry.path.clone_from(p);
        }
        entry.usage.clone_from(&extra.usage);
    }
    shared.with(|s| s.push_log(entry));
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    let (parts, body) = resp.into_parts();
    let body = crate::stats::CountedBody::wrap(body, shared.stats.clone());
    Response::from_parts(parts, body)
}
