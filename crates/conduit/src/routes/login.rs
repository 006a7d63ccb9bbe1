//! `GET /login`: the device-flow sign-in as a page served by the gateway. The page calls
//! `POST /login/start` (code + verification URL), then `GET /login/poll?id=` at the interval
//! until "Signed in."; with several profiles it offers a choice (`POST /login/choose`).
//! Loopback only (see `local_only`). Settings come from the process environment, like
//! `conduit login`; the gateway picks the new account up on the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use conduit_kiro::auth::device::{DeviceFlow, DeviceTokens, Poll};
use conduit_kiro::auth::login::{self, LoginSettings};
use conduit_kiro::auth::profiles::{Choice, Profile};
use conduit_kiro::config::KiroConfig;
use serde::Deserialize;
use serde_json::{json, Value};

use super::local_only::require_local;

enum Stage {
    Polling(Box<DeviceFlow>),
    Choosing(Box<DeviceFlow>, DeviceTokens, Vec<Profile>),
    Busy,
    Done(Value),
}

#[derive(Clone, Default)]
pub struct Logins {
    sessions: Arc<Mutex<HashMap<String, Stage>>>,
}

impl Logins {
    fn take(&self, id: &str) -> Option<Stage> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let stage = map.get_mut(id)?;
        match stage {
            Stage::Done(v) => Some(Stage::Done(v.clone())),
            Stage::Busy => Some(Stage::Busy),
            _ => Some(std::mem::replace(stage, Stage::Busy)),
        }
    }
    fn put(&self, id: &str, stage: Stage) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(id.to_string(), stage);
    }
}

/// The `/login` routes, guarded, with their own state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/login", get(page))
        .route("/login/start", post(start))
        .route("/login/poll", get(poll))
        .route("/login/choose", post(choose))
        .route_layer(axum::middleware::from_fn(require_local))
        .with_state(Logins::default())
}

fn kiro_config() -> Result<KiroConfig, String> {
    let env = |k: &str| std::env::var(k).ok();
    let home = crate::config::home_dir(&env)?;
    KiroConfig::from_env(env, home.join("data"))
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "error", "message": message.into()})),
    )
        .into_response()
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn start(State(logins): State<Logins>) -> Response {
    let config = match kiro_config() {
        Ok(c) => c,
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let settings = LoginSettings::from_config(&config);
    let http = match conduit_kiro::client::build_http(&config) {
        Ok(h) => h,
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, e.message),
    };
    match settings.begin(&http).await {
        Ok(flow) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let body = json!({"id": id, "user_code": flow.prompt.user_code,
                "verification_uri": flow.prompt.verification_uri,
                "verification_uri_complete": flow.prompt.verification_uri_complete,
                "expires_in": flow.prompt.expires_in, "interval": flow.interval().as_secs(),
                "start_url": settings.start_url});
            logins.put(&id, Stage::Polling(Box::new(flow)));
            Json(body).into_response()
        }
        Err(e) => failure(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

#[derive(Deserialize)]
struct PollQuery {
    id: String,
}

async fn poll(State(logins): State<Logins>, Query(q): Query<PollQuery>) -> Response {
    let Some(stage) = logins.take(&q.id) else {
        return failure(StatusCode::NOT_FOUND, "no such sign-in: start again");
    };
    let mut flow = match stage {
        Stage::Done(v) => return Json(v).into_response(),
        Stage::Busy => return Json(json!({"status": "pending"})).into_response(),
        Stage::Choosing(f, t, list) => {
            let body = choose_body(&list);
            logins.put(&q.id, Stage::Choosing(f, t, list));
            return Json(body).into_response();
        }
        Stage::Polling(f) => f,
    };
    let outcome = match flow.poll().await {
        Ok(Poll::Pending) | Ok(Poll::SlowDown) => {
            let interval = flow.interval().as_secs();
            logins.put(&q.id, Stage::Polling(flow));
            return Json(json!({"status": "pending", "interval": interval})).into_response();
        }
        Ok(Poll::Done(tokens)) => finish(&logins, &q.id, flow, tokens, None).await,
        Err(e) => json!({"status": "error", "message": e.to_string()}),
    };
    if outcome["status"] != "choose" {
        logins.put(&q.id, Stage::Done(outcome.clone()));
    }
    Json(outcome).into_response()
}

#[derive(Deserialize)]
struct ChooseBody {
    id: String,
    arn: String,
}

async fn choose(State(logins): State<Logins>, Json(b): Json<ChooseBody>) -> Response {
    match logins.take(&b.id) {
        Some(Stage::Choosing(flow, tokens, list)) => {
            let Some(p) = list.iter().find(|p| p.arn == b.arn).cloned() else {
                logins.put(&b.id, Stage::Choosing(flow, tokens, list));
                return failure(StatusCode::BAD_REQUEST, "that profile is not offered");
            };
            let outcome = finish(&logins, &b.id, flow, tokens, Some(p)).await;
            logins.put(&b.id, Stage::Done(outcome.clone()));
            Json(outcome).into_response()
        }
        Some(Stage::Done(v)) => Json(v).into_response(),
        _ => failure(
            StatusCode::NOT_FOUND,
            "no sign-in waits for a profile choice",
        ),
    }
}

fn choose_body(list: &[Profile]) -> Value {
    json!({"status": "choose", "profiles": list})
}

/// Profile discovery and saving; returns the JSON the page shows.
async fn finish(
    logins: &Logins,
    id: &str,
    flow: Box<DeviceFlow>,
    tokens: DeviceTokens,
    chosen: Option<Profile>,
) -> Value {
    let config = match kiro_config() {
        Ok(c) => c,
        Err(e) => return json!({"status": "error", "message": e}),
    };
    let settings = LoginSettings::from_config(&config);
    let profile = match chosen {
        Some(p) => Some(p),
        None => {
            let http = reqwest::Client::new();
            match login::discover_profile(&http, &config, &settings, &tokens).await {
                Ok(Choice::Use(p)) => Some(p),
                Ok(Choice::None) => None,
                Ok(Choice::Ask(list)) => {
                    let body = choose_body(&list);
                    logins.put(id, Stage::Choosing(flow, tokens, list));
                    return body;
                }
                Err(e) => return json!({"status": "error", "message": e}),
            }
        }
    };
    match login::save(&settings, &flow.registration, &tokens, profile.as_ref()) {
        Ok(entry) => json!({"status": "signed_in", "account": entry.id, "label": entry.label,
            "profile_arn": entry.profile_arn}),
        Err(e) => json!({"status": "error", "message": e}),
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>conduit: sign in to Kiro</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;line-height:1.5}
#code{font-size:2rem;font-family:monospace;letter-spacing:.2rem}.err{color:#b00}</style></head>
<body><h1>Sign in to Kiro</h1>
<p id="intro">Starting the AWS sign-in…</p>
<div id="prompt" hidden><p>Open <a id="link" target="_blank" rel="noopener"></a> and enter this code:</p>
<p id="code"></p><p id="wait">Waiting for approval…</p></div>
<div id="choose" hidden><p>Choose the CodeWhisperer profile:</p><div id="profiles"></div></div>
<p id="result" role="status"></p>
<script>
const $ = (id) => document.getElementById(id);
let id = null, interval = 1;
function done(v) {
  $("prompt").hidden = true; $("choose").hidden = true;
  if (v.status === "signed_in") {
    $("result").textContent = "Signed in.";
    $("intro").textContent = "Account " + v.label + (v.profile_arn ? " (" + v.profile_arn + ")" : "");
  } else { $("result").className = "err"; $("result").textContent = v.message || "Sign-in failed."; }
}
function show(v) {
  if (v.status === "pending") { interval = v.interval || interval; setTimeout(poll, interval * 1000); return; }
  if (v.status === "choose") {
    $("prompt").hidden = true; $("choose").hidden = false; $("profiles").textContent = "";
    for (const p of v.profiles) {
      const b = document.createElement("button");
      b.textContent = (p.profileName || "profile") + " (" + p.arn + ")";
      b.onclick = async () => show(await (await fetch("/login/choose", {method: "POST",
        headers: {"content-type": "application/json"}, body: JSON.stringify({id, arn: p.arn})})).json());
      $("profiles").appendChild(b);
    }
    return;
  }
  done(v);
}
async function poll() {
  try { show(await (await fetch("/login/poll?id=" + id)).json()); }
  catch (e) { setTimeout(poll, interval * 1000); }
}
async function start() {
  const r = await fetch("/login/start", {method: "POST"});
  const v = await r.json();
  if (!r.ok) { done(v); return; }
  id = v.id; interval = v.interval || 1;
  $("intro").textContent = "Signing in to " + v.start_url;
  const url = v.verification_uri_complete || v.verification_uri;
  $("link").href = url; $("link").textContent = v.verification_uri;
  $("code").textContent = v.user_code; $("prompt").hidden = false;
  setTimeout(poll, interval * 1000);
}
start();
</script></body></html>
"#;
