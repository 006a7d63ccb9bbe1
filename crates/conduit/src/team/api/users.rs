//! `/admin/users`: create, list, (de)activate and move users between teams. A deactivated
//! user's keys and sessions stop at once (the cache drops them on the sync after the write).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::{NewUser, Role, User};
use serde_json::{json, Value};

use super::caller::{Admin, Caller, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::wire::{CreateUser, SetTeam, UpdateUser, UserView};
use crate::state::TeamState;

/// `POST /admin/users`: `subject` defaults to `email` (CCAG sends only `email`).
pub async fn create(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(body): AdminJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = create_user(&team, &caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// Validate, hash the password if any, store (audited), make this instance see it.
pub(crate) async fn create_user(
    team: &TeamState,
    actor: &conduit_store::Actor,
    body: CreateUser,
) -> ApiResult<User> {
    let subject = body
        .subject
        .or_else(|| body.email.clone())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("subject: required (or an email to use as one)"))?;
    let role = parse_role(body.role.as_deref().unwrap_or("member"))?;
    let password_hash = match body.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let new = NewUser {
        subject,
        email: body.email,
        role,
        team_id: body.team_id,
        password_hash,
    };
    let user = team.store.create_user(&new, actor).await?;
    super::sync(team).await;
    Ok(user)
}

/// `GET /admin/users`.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let users: Vec<UserView> = team
        .store
        .list_users()
        .await?
        .iter()
        .map(UserView::from)
        .collect();
    Ok(Json(json!({ "users": users })))
}

/// `PATCH /admin/users/{id} {"active"?, "role"?}`: deactivate, bring back, change the role.
/// An admin cannot deactivate or demote themselves (another admin, or `conduit team
/// reset-admin`, can), so a gateway is never left without an admin by a slip.
pub async fn update(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let user = apply(&team, &caller, &id, role, body.active).await?;
    Ok(Json(UserView::from(&user)))
}

/// `PUT /admin/users/{id} {"role"}`: CCAG's role change.
pub async fn put_role(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<UpdateUser>,
) -> ApiResult<Json<Value>> {
    let role = parse_role(body.role.as_deref().unwrap_or_default())?;
    apply(&team, &caller, &id, Some(role), body.active).await?;
    Ok(Json(json!({"updated": true})))
}

pub(crate) async fn apply(
    team: &TeamState,
    caller: &Caller,
    id: &str,
    role: Option<Role>,
    active: Option<bool>,
) -> ApiResult<User> {
    if role.is_none() && active.is_none() {
        return Err(ApiError::invalid(
            "nothing to change: send \"active\" (true or false) and/or \"role\"",
        ));
    }
    let demotes = role.is_some_and(|r| r != Role::Admin) || active == Some(false);
    if demotes && caller.user_id()? == id {
        return Err(ApiError::invalid(
            "you cannot deactivate or demote yourself; another admin can",
        ));
    }
    let actor = caller.actor();
    let mut user = None;
    if let Some(role) = role {
        user = Some(team.store.set_user_role(id, role, &actor).await?);
    }
    if let Some(active) = active {
        user = Some(team.store.set_user_active(id, active, &actor).await?);
    }
    super::sync(team).await;
    user.ok_or_else(|| ApiError(conduit_core::Error::internal("no change applied")))
}

/// `PUT /admin/users/{id}/team {"team_id": id | null}`.
pub async fn set_team(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<SetTeam>,
) -> ApiResult<Json<Value>> {
    team.store
        .set_user_team(&id, body.team_id.as_deref(), &caller.actor())
        .await?;
    super::sync(&team).await;
    Ok(Json(json!({"updated": true})))
}

pub(crate) fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::parse(role).ok_or_else(|| {
        ApiError::invalid(format!(
            "role: must be member, admin or auditor (got {role:?})"
        ))
    })
}

/// argon2id off the async threads (it is slow on purpose).
async fn hash(password: String) -> Result<String, ApiError> {
    if password.chars().count() < crate::team::password::MIN_CHARS {
        return Err(ApiError::invalid(format!(
            "password: must be at least {} characters",
            crate::team::password::MIN_CHARS
        )));
    }
    tokio::task::spawn_blocking(move || crate::team::password::hash(&password))
        .await
        .map_err(|e| {
            ApiError(conduit_core::Error::internal(format!(
                "hashing failed: {e}"
            )))
        })?
        .map_err(ApiError::from)
}
