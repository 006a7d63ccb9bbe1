//! `/admin/keys`: virtual keys for anyone (admins), listed without secrets, revoked at once;
//! and the minting and issuing shared with `/me/keys` and `/auth/login`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::{Actor, CredentialKind, NewCredential};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::wire::{self, CreateKey, CreatedKey, KeyView};
use crate::state::TeamState;

/// A new secret: `prefix` and 64 lower-case hex characters (32 random bytes).
pub struct Minted {
    pub secret: String,
    /// Lower-case hex SHA-256 of the secret: all the store keeps.
    pub digest: String,
    /// The first 16 characters and `...`, to recognise it in a list.
    pub display: String,
}

pub fn mint(prefix: &str) -> Minted {
    let secret = format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()));
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
    let display = format!("{}...", &secret[..16]);
    Minted {
        secret,
        digest,
        display,
    }
}

/// What a key is made for, after the caller's role decided the owner.
pub struct KeyRequest {
    pub name: Option<String>,
    pub rate_limit_rpm: Option<i64>,
    pub expires_at: Option<String>,
    pub user_id: String,
    pub team_id: Option<String>,
}

/// Validate, mint, store (audited as `key.create`), make this instance see it, answer 201.
pub async fn issue(
    team: &TeamState,
    req: KeyRequest,
    actor: &Actor,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let (secret, created) = issue_key(team, req, actor).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey::new(secret, &created))))
}

/// [`issue`]'s work: the secret (to show once) and the stored key.
pub async fn issue_key(
    team: &TeamState,
    req: KeyRequest,
    actor: &Actor,
) -> ApiResult<(String, conduit_store::Credential)> {
    if let Some(rpm) = req.rate_limit_rpm.filter(|r| *r < 1) {
        return Err(ApiError::invalid(format!(
            "rate_limit_rpm: must be at least 1 (got {rpm}); leave it out for no limit"
        )));
    }
    let expires_at = match &req.expires_at {
        Some(t) => Some(wire::future_time("expires_at", t)?),
        None => None,
    };
    let minted = mint("sk-proxy-");
    let new = NewCredential {
        kind: CredentialKind::Key,
        digest: minted.digest,
        prefix: minted.display,
        name: req.name.unwrap_or_default(),
        user_id: Some(req.user_id),
        team_id: req.team_id,
        rate_limit_rpm: req.rate_limit_rpm,
        expires_at,
    };
    let created = team.store.create_credential(&new, actor).await?;
    super::sync(team).await;
    Ok((minted.secret, created))
}

/// Revoke key `id` (already known to be a key the caller may revoke).
pub async fn revoke_key(team: &TeamState, id: &str, actor: &Actor) -> ApiResult<Json<Value>> {
    team.store
        .revoke_credential(id, "key.revoke", actor)
        .await?;
    super::sync(team).await;
    Ok(Json(json!({"revoked": true})))
}

/// `POST /admin/keys`: for the caller unless `user_id` names someone; `team_id` defaults to
/// the owner's team.
pub async fn create(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(mut body): AdminJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let user_id = match body.user_id.take() {
        Some(id) => id,
        None => caller.user_id()?.to_owned(),
    };
    let team_id = body.team_id.take();
    let req = request_for(&team, user_id, team_id, body).await?;
    issue(&team, req, &caller.actor()).await
}

/// A key request for `user_id` (who must exist), in `team_id`, else in the owner's team.
pub(crate) async fn request_for(
    team: &TeamState,
    user_id: String,
    team_id: Option<String>,
    body: CreateKey,
) -> ApiResult<KeyRequest> {
    let owner = team
        .store
        .user(&user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(KeyRequest {
        name: body.name,
        rate_limit_rpm: body.rate_limit_rpm,
        expires_at: body.expires_at,
        user_id,
        team_id: team_id.or(owner.team_id),
    })
}

/// `GET /admin/keys`: every key, no secrets.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let keys = team.store.list_keys(None).await?;
    Ok(listing(&keys))
}

/// `{"keys":[…]}`.
pub fn listing(keys: &[conduit_store::Credential]) -> Json<Value> {
    let now = wire::now();
    let keys: Vec<KeyView> = keys.iter().map(|k| KeyView::new(k, now)).collect();
    Json(json!({ "keys": keys }))
}

/// `POST /admin/keys/{id}/revoke`.
pub async fn revoke(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    team.store
        .credential(&id)
        .await?
        .filter(|c| c.kind == CredentialKind::Key)
        .ok_or_else(|| ApiError::not_found("key"))?;
    revoke_key(&team, &id, &caller.actor()).await
}
