//! The test-only control API under `/_sim`: accounts, rules, log, config, device approval.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::config::ConfigPatch;
use crate::model::{Account, Rule};
use crate::state::{ApproveOptions, DeviceStatus, Shared, State as SimState};

type Sim = State<Arc<Shared>>;

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response()
}

pub(crate) async fn health() -> &'static str {
    "ok"
}

pub(crate) async fn reset(State(shared): Sim) -> StatusCode {
    shared.with(SimState::reset);
    StatusCode::NO_CONTENT
}

pub(crate) async fn add_account(State(shared): Sim, Json(account): Json<Account>) -> Response {
    let id = shared.with(|s| s.add_account(account));
    Json(json!({ "id": id })).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenBody {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

pub(crate) async fn expire(State(shared): Sim, Json(b): Json<TokenBody>) -> Response {
    let token = b.access_token.unwrap_or_default();
    if shared.with(|s| s.expire_access(&token)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("unknown access_token")
    }
}

pub(crate) async fn revoke(State(shared): Sim, Json(b): Json<TokenBody>) -> Response {
    let token = b.refresh_token.unwrap_or_default();
    if shared.with(|s| s.revoke_refresh(&token)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("unknown refresh_token")
    }
}

pub(crate) async fn add_rule(State(shared): Sim, Json(rule): Json<Rule>) -> Response {
    let id = shared.with(|s| s.add_rule(rule));
    Json(json!({ "id": id })).into_response()
}

pub(crate) async fn list_rules(State(shared): Sim) -> Response {
    let rules: Vec<Rule> = shared.with(|s| s.rules.iter().map(|r| r.rule.clone()).collect());
    Json(rules).into_response()
}

pub(crate) async fn log(State(shared): Sim) -> Response {
    Json(shared.with(|s| s.log_sorted())).into_response()
}

pub(crate) async fn stats(State(shared): Sim) -> Response {
    Json(shared.stats.snapshot()).into_response()
}

pub(crate) async fn config(State(shared): Sim, Json(patch): Json<ConfigPatch>) -> Response {
    let config = shared.with(|s| {
        s.config.apply(patch);
        s.config.clone()
    });
    Json(config).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeviceBody {
    user_code: String,
    #[serde(flatten)]
    options: ApproveOptions,
}

/// Set the status of the pending device authorisation with this user code.
pub(crate) fn set_device(
    shared: &Shared,
    user_code: &str,
    f: impl FnOnce(&mut crate::state::DeviceAuth),
) -> bool {
    shared.with(|s| {
        match s
            .devices
            .values_mut()
            .find(|d| d.user_code == user_code && d.status == DeviceStatus::Pending)
        {
            Some(d) => {
                f(d);
                true
            }
            None => false,
        }
    })
}

fn device_answer(found: bool) -> Response {
    if found {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("no pending device authorization with this user_code")
    }
}

pub(crate) async fn approve(State(shared): Sim, Json(b): Json<DeviceBody>) -> Response {
    device_answer(set_device(&shared, &b.user_code, |d| {
        d.status = DeviceStatus::Approved;
        d.approve = b.options;
    }))
}

pub(crate) async fn deny(State(shared): Sim, Json(b): Json<DeviceBody>) -> Response {
    device_answer(set_device(&shared, &b.user_code, |d| {
        d.status = DeviceStatus::Denied;
    }))
}

pub(crate) async fn expire_device(State(shared): Sim, Json(b): Json<DeviceBody>) -> Response {
    device_answer(set_device(&shared, &b.user_code, |d| {
        d.expires_at = tokio::time::Instant::now();
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    user_code: Option<String>,
}

/// The verification page a person would open: shows the code, Approve and Deny buttons.
pub(crate) async fn device_page(Query(q): Query<PageQuery>) -> Html<String> {
    let code: String = q
        .user_code
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Html(format!(
        r#"<!doctype html><html><head><title>conduit-sim device login</title></head><body>
<h1>Authorize device</h1><p>Code: <code id="code">{code}</code></p>
<button onclick="act('approve')">Approve</button> <button onclick="act('deny')">Deny</button>
<p id="out"></p>
<script>
async function act(what) {{
  const r = await fetch('/_sim/device/' + what, {{method: 'POST',
    headers: {{'content-type': 'application/json'}},
    body: JSON.stringify({{user_code: document.getElementById('code').textContent}})}});
  document.getElementById('out').textContent = r.ok ? what + 'd' : 'failed: ' + r.status;
}}
</script></body></html>"#
    ))
}
