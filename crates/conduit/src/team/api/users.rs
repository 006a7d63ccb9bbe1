//! `/admin/users`: create, list, (de)activate and move users between teams. A deactivated
//! user's keys and sessions stop at once (the cache drops them on the sync after the write).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::{NewUser, Role};
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::wire::{CreateUser, SetTeam, UpdateUser, UserView};
use crate::state::TeamState;

/// The shortest password accepted for a user.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// `POST /admin/users`: `subject` defaults to `email` (CCAG sends only `email`).
pub async fn create(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(body): AdminJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
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
    let user = team.store.create_user(&new, &caller.actor()).await?;
    super::sync(&team).await;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
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

/// `PATCH /admin/users/{id} {"active"}`: deactivate or bring back. An admin cannot
/// deactivate themselves (another admin, or `conduit team reset-admin`, can).
pub async fn update(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    if body.role.is_some() {
        return Err(ApiError::invalid(
            "role: changing a user's role is not supported yet; create a new user instead",
        ));
    }
    let active = body
        .active
        .ok_or_else(|| ApiError::invalid("active: required (true or false)"))?;
    if !active && caller.user_id()? == id {
        return Err(ApiError::invalid(
            "you cannot deactivate yourself; another admin can",
        ));
    }
    let user = team
        .store
        .set_user_active(&id, active, &caller.actor())
        .await?;
    super::sync(&team).await;
    Ok(Json(UserView::from(&user)))
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

fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::parse(role).ok_or_else(|| {
        ApiError::invalid(format!(
            "role: must be member, admin or auditor (got {role:?})"
        ))
    })
}

/// argon2id off the async threads (it is slow on purpose).
async fn hash(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    tokio::task::spawn_blocking(move || super::pw::hash(&password))
        .await
        .map_err(|e| {
            ApiError(conduit_core::Error::internal(format!(
                "hashing failed: {e}"
            )))
        })?
        .map_err(ApiError::from)
}
