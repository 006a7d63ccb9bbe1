//! `GET /health`: is the gateway up, and can its upstream serve requests?

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use conduit_kiro::accounts::AccountState;

use crate::state::{KiroAccounts, Upstreams};

pub async fn health(
    State(upstreams): State<Upstreams>,
    State(kiro): State<KiroAccounts>,
) -> (StatusCode, Json<Value>) {
    let mut status = upstreams.0.status();
    // Several accounts report `state`, `reason` and `credits_used` each; give a single one the
    // same, so `conduit status` and `doctor` read both alike.
    if let (Some(k), Value::Object(detail)) = (&kiro.0, &mut status.detail) {
        if k.pool().len() == 1 {
            let (state, reason, credits) = k.pool().account_state(0);
            // Suspended, out of quota, cooling down, dead: it cannot serve now.
            if state != AccountState::Active {
                status.state = conduit_core::UpstreamState::Failing;
            }
            detail.insert("state".into(), json!(state));
            detail.insert("reason".into(), json!(reason));
            detail.insert("credits_used".into(), json!(credits));
        }
    }
    let healthy = status.healthy();
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": if healthy { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "upstream": status.detail,
        })),
    )
}
