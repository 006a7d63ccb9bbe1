//! `GET /healthz` (the process lives) and `GET /readyz` (it can serve: the store answers with
//! every migration applied, the credential cache has caught up with it, and an upstream is
//! configured; else 503 and why). A load balancer must not send traffic to an instance whose
//! cache would still refuse it, so a stale cache is synced here, or reported.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::StoreError;
use serde_json::{json, Value};
use tokio::time::timeout;

use crate::state::{TeamState, Upstreams};

/// How long the store may take to say it is ready.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(
    team: TeamState,
    State(upstreams): State<Upstreams>,
) -> (StatusCode, Json<Value>) {
    let mut reasons = Vec::new();
    match timeout(STORE_TIMEOUT, team.store.ready()).await {
        Ok(Ok(())) => {
            if team.cache.check_fresh().is_err() {
                let synced = timeout(STORE_TIMEOUT, team.cache.sync_now(&team.store)).await;
                if !matches!(synced, Ok(Ok(()))) {
                    reasons.push("cache: not yet synced with the team store".to_owned());
                }
            }
        }
        Ok(Err(e)) => reasons.push(store_reason(&e)),
        Err(_) => reasons.push(format!(
            "store: the team store is unreachable: no answer within {} s",
            STORE_TIMEOUT.as_secs()
        )),
    }
    if upstreams.0.status().is_empty() {
        reasons.push("upstream: none configured".to_owned());
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "ready": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reasons": reasons })),
        )
    }
}

fn store_reason(e: &StoreError) -> String {
    match e {
        StoreError::Internal(m) if m.starts_with("migrations:") => m.clone(),
        e => format!("store: {e}"),
    }
}
