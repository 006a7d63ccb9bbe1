//! `GET /health`: is the gateway up, and can its upstreams serve requests? Each upstream's id,
//! kind, state, reason and cooldown in `upstreams`; Kiro's detail also in `upstream`, where
//! `conduit status` and `doctor` have always read it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use conduit_core::{UpstreamKind, UpstreamState, UpstreamStatus};
use serde_json::{json, Value};

use conduit_kiro::accounts::AccountState;

use crate::state::{KiroAccounts, Upstreams};

pub async fn health(
    State(upstreams): State<Upstreams>,
    State(kiro): State<KiroAccounts>,
) -> (StatusCode, Json<Value>) {
    let mut statuses = upstreams.0.status();
    for status in statuses.iter_mut() {
        if status.kind == UpstreamKind::Kiro {
            kiro_account_state(&kiro, status);
        }
    }
    let ready = statuses.iter().filter(|s| s.healthy()).count();
    // Every upstream ready: ok. Some: degraded, still serving (200). None: 503.
    let (code, word) = match ready {
        n if n == statuses.len() => (StatusCode::OK, "ok"),
        0 => (StatusCode::SERVICE_UNAVAILABLE, "degraded"),
        _ => (StatusCode::OK, "degraded"),
    };
    let detail = statuses
        .iter()
        .find(|s| s.kind == UpstreamKind::Kiro)
        .or(statuses.first())
        .map(|s| s.detail.clone())
        .unwrap_or(Value::Null);
    (
        code,
        Json(json!({
            "status": word,
            "version": env!("CARGO_PKG_VERSION"),
            "upstream": detail,
            "upstreams": statuses,
        })),
    )
}

/// Several accounts report `state`, `reason` and `credits_used` each; give a single one the
/// same, so `conduit status` and `doctor` read both alike.
fn kiro_account_state(kiro: &KiroAccounts, status: &mut UpstreamStatus) {
    let (Some(k), Value::Object(detail)) = (&kiro.0, &mut status.detail) else {
        return;
    };
    if k.pool().len() == 1 {
        let (state, reason, credits) = k.pool().account_state(0);
        // Suspended, out of quota, cooling down, dead: it cannot serve now.
        if state != AccountState::Active && status.state == UpstreamState::Ready {
            status.state = UpstreamState::Failing;
            status.reason = status.reason.take().or_else(|| reason.clone());
        }
        detail.insert("state".into(), json!(state));
        detail.insert("reason".into(), json!(reason));
        detail.insert("credits_used".into(), json!(credits));
    }
}
