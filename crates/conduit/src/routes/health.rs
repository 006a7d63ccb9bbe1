//! `GET /health`: is the gateway up, and can its upstream serve requests?

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::Upstreams;

pub async fn health(State(upstreams): State<Upstreams>) -> (StatusCode, Json<Value>) {
    let status = upstreams.0.status();
    let code = if status.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": if status.healthy { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "upstream": status.detail,
        })),
    )
}
