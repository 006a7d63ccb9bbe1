//! `GET /v1/usage`: each Kiro account's usage and limits (getUsageLimits), health and cooldown.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::state::KiroAccounts;

pub async fn usage(State(kiro): State<KiroAccounts>) -> Json<Value> {
    match &kiro.0 {
        Some(upstream) => Json(upstream.usage().await),
        None => Json(json!({ "accounts": [] })),
    }
}
