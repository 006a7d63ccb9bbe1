//! The test-only control API under `/_sim`: accounts, rules, log, config, device approval.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::catalog::ModelInfo;
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

/// The flags `POST /_sim/accounts/update` can set; absent ones stay as they are.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct AccountUpdate {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub suspended: Option<bool>,
    #[serde(default)]
    pub risk_limited: Option<bool>,
    #[serde(default)]
    pub quota_exhausted: Option<bool>,
    #[serde(default)]
    pub overage_exhausted: Option<bool>,
}

/// Apply an update to the account owning the given token (access or refresh, even if dead);
/// false if no account has it.
pub(crate) fn update_account(s: &mut SimState, u: &AccountUpdate) -> bool {
    let idx = u
        .access_token
        .as_ref()
        .and_then(|t| s.access.get(t).map(|e| e.account))
        .or_else(|| {
            u.refresh_token
                .as_ref()
                .and_then(|t| s.refresh.get(t).map(|e| e.account))
        });
    let Some(a) = idx.and_then(|i| s.accounts.get_mut(i)) else {
        return false;
    };
    let spec = &mut a.spec;
    for (flag, value) in [
        (&mut spec.suspended, u.suspended),
        (&mut spec.risk_limited, u.risk_limited),
        (&mut spec.quota_exhausted, u.quota_exhausted),
        (&mut spec.overage_exhausted, u.overage_exhausted),
    ] {
        if let Some(v) = value {
            *flag = v;
        }
    }
    true
}

pub(crate) async fn update(State(shared): Sim, Json(u): Json<AccountUpdate>) -> Response {
    if shared.with(|s| update_account(s, &u)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("no account with this access_token or refresh_token")
    }
}

/// Per-account credits and chat counts (`GET /_sim/accounts/credits`).
pub(crate) fn credits_json(s: &SimState) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = s
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"id": i, "kind": a.spec.kind, "access_token": a.spec.access_token,
                   "refresh_token": a.spec.refresh_token, "profile_arn": a.spec.profile_arn,
                   "credits": (a.credits * 10_000.0).round() / 10_000.0,
                   "chat_requests": a.chat_requests})
        })
        .collect();
    json!({ "accounts": rows })
}

pub(crate) async fn credits(State(shared): Sim) -> Response {
    Json(shared.with(|s| credits_json(s))).into_response()
}

/// `POST /_sim/models`: add a catalogue entry, or replace the one with its `modelId`.
pub(crate) async fn add_model(State(shared): Sim, Json(model): Json<ModelInfo>) -> Response {
    let id = model.model_id.clone();
    shared.with(|s| s.config.upsert_model(model));
    Json(json!({ "modelId": id })).into_response()
}

/// `DELETE /_sim/models/{modelId}`.
pub(crate) async fn delete_model(State(shared): Sim, Path(id): Path<String>) -> Response {
    let removed = shared.with(|s| {
        let before = s.config.models.len();
        s.config.models.retain(|m| m.model_id != id);
        s.config.models.len() != before
    });
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("no model with this modelId")
    }
}

/// `POST /_sim/bedrock/faults` (a [`crate::BedrockFault`]).
pub(crate) async fn add_fault(
    State(shared): Sim,
    Json(fault): Json<crate::messages::faults::BedrockFault>,
) -> StatusCode {
    shared.with(|s| s.add_fault(fault));
    StatusCode::NO_CONTENT
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
