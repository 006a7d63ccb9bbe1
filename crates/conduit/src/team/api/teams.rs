//! `/admin/teams`: create and list teams.

use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::wire::{CreateTeam, TeamView};
use crate::state::TeamState;

/// `POST /admin/teams {"name"}`: the name is kept verbatim; a taken one is a 400.
pub async fn create(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(body): AdminJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    let created = create_team(&team, &caller.actor(), &body.name).await?;
    Ok((StatusCode::CREATED, Json(TeamView::from(&created))))
}

/// Store a team (audited); an empty name is a 400.
pub(crate) async fn create_team(
    team: &TeamState,
    actor: &conduit_store::Actor,
    name: &str,
) -> ApiResult<conduit_store::Team> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name: must not be empty"));
    }
    Ok(team.store.create_team(name, actor).await?)
}

/// `GET /admin/teams`.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let teams: Vec<TeamView> = team
        .store
        .list_teams()
        .await?
        .iter()
        .map(TeamView::from)
        .collect();
    Ok(Json(json!({ "teams": teams })))
}
