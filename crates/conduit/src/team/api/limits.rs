//! `/admin/limits`: the rate limits of keys, users and teams (requests per minute, tokens per
//! minute, concurrent streams). Writes are audited by the store and put in force on this
//! instance before the answer (the others reload within 2 s).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::{RateLimit, RateScope};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use crate::state::TeamState;
use crate::team::wire::rfc3339;

/// `PUT /admin/limits/{scope_type}/{scope_id}`: each limit a whole number ≥ 1, or `null` (or
/// absent) for none.
#[derive(Debug, Deserialize)]
pub struct SetLimits {
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub max_streams: Option<i64>,
}

/// One scope's limits as the API shows them.
#[derive(Debug, Serialize)]
pub struct LimitView {
    pub scope_type: &'static str,
    pub scope_id: String,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub max_streams: Option<i64>,
    pub updated_at: String,
}

impl From<&RateLimit> for LimitView {
    fn from(l: &RateLimit) -> Self {
        LimitView {
            scope_type: l.scope_type.as_str(),
            scope_id: l.scope_id.clone(),
            rpm: l.rpm,
            tpm: l.tpm,
            max_streams: l.max_streams,
            updated_at: rfc3339(l.updated_at),
        }
    }
}

/// `GET /admin/limits`.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let limits: Vec<LimitView> = team
        .store
        .list_rate_limits()
        .await?
        .iter()
        .map(LimitView::from)
        .collect();
    Ok(Json(json!({ "limits": limits })))
}

/// `PUT /admin/limits/{scope_type}/{scope_id}`: set (replace) one scope's limits; 404 when
/// the key, user or team does not exist.
pub async fn put(
    team: TeamState,
    Admin(caller): Admin,
    Path((scope_type, scope_id)): Path<(String, String)>,
    AdminJson(body): AdminJson<SetLimits>,
) -> ApiResult<Json<LimitView>> {
    let set = set_limits(&team, &caller.actor(), &scope_type, &scope_id, body).await?;
    Ok(Json(LimitView::from(&set)))
}

/// Validate and store one scope's rate limits (audited), put them in force here.
pub(crate) async fn set_limits(
    team: &TeamState,
    actor: &conduit_store::Actor,
    scope_type: &str,
    scope_id: &str,
    body: SetLimits,
) -> ApiResult<conduit_store::RateLimit> {
    let scope = scope_of(scope_type)?;
    for (name, value) in [
        ("rpm", body.rpm),
        ("tpm", body.tpm),
        ("max_streams", body.max_streams),
    ] {
        if value.is_some_and(|v| v < 1) {
            return Err(ApiError::invalid(format!(
                "{name}: must be a whole number of at least 1, or null for no limit"
            )));
        }
    }
    let set = team
        .store
        .set_rate_limit(scope, scope_id, body.rpm, body.tpm, body.max_streams, actor)
        .await?;
    applied(team).await;
    Ok(set)
}

/// `DELETE /admin/limits/{scope_type}/{scope_id}`: 204; 404 when it had no limits.
pub async fn delete(
    team: TeamState,
    Admin(caller): Admin,
    Path((scope_type, scope_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_limits(&team, &caller.actor(), &scope_type, &scope_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove one scope's rate limits (audited), here at once.
pub(crate) async fn delete_limits(
    team: &TeamState,
    actor: &conduit_store::Actor,
    scope_type: &str,
    scope_id: &str,
) -> ApiResult<()> {
    let scope = scope_of(scope_type)?;
    team.store.delete_rate_limit(scope, scope_id, actor).await?;
    applied(team).await;
    Ok(())
}

fn scope_of(text: &str) -> Result<RateScope, ApiError> {
    RateScope::parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "scope type `{text}`: must be one of key, user, team"
        ))
    })
}

/// This instance uses the write at once; the others reload within 2 s.
async fn applied(team: &TeamState) {
    if let Err(e) = team.limiter.reload_rules().await {
        tracing::warn!(error = %e, "reloading the rate limits after a write failed");
    }
}
