//! `/me/keys`: any signed-in person's own keys. Another person's key id answers 404, as an
//! unknown one does, so ids cannot be probed.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::CredentialKind;
use serde_json::Value;

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::keys;
use super::wire::{CreateKey, CreatedKey};
use crate::state::TeamState;

/// `POST /me/keys`: owned by the caller, in the caller's team (`user_id`, `team_id` ignored).
pub async fn create(
    team: TeamState,
    caller: Caller,
    AdminJson(body): AdminJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let user_id = caller.user_id()?.to_owned();
    let req = keys::request_for(&team, user_id, None, body).await?;
    keys::issue(&team, req, &caller.actor()).await
}

/// `GET /me/keys`.
pub async fn list(team: TeamState, caller: Caller) -> ApiResult<Json<Value>> {
    let mine = team.store.list_keys(Some(caller.user_id()?)).await?;
    Ok(keys::listing(&mine))
}

/// `POST /me/keys/{id}/revoke`.
pub async fn revoke(
    team: TeamState,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = caller.user_id()?;
    team.store
        .credential(&id)
        .await?
        .filter(|c| c.kind == CredentialKind::Key && c.user_id.as_deref() == Some(me))
        .ok_or_else(|| ApiError::not_found("key"))?;
    keys::revoke_key(&team, &id, &caller.actor()).await
}
