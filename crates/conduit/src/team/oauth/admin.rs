//! `GET/PUT/DELETE /admin/managed-settings`: the policy `/managed/settings` serves (admins
//! write, auditors read; the store call audits `managed_settings.set` / `.delete`). `PUT` takes
//! the settings document itself, a JSON object of at most 64 KiB.

use axum::http::StatusCode;
use axum::Json;
use conduit_core::Error;
use conduit_store::ManagedSettings;
use serde_json::{json, Map, Value};

use super::managed::checksum;
use crate::state::TeamState;
use crate::team::api::{Admin, AdminJson, ApiError, Reader};
use crate::team::wire::rfc3339;

type Answer = Result<Json<Value>, ApiError>;

pub async fn get(team: TeamState, _: Reader) -> Answer {
    match team.store.managed_settings().await? {
        Some(policy) => Ok(Json(view(&policy))),
        None => Err(ApiError::not_found("managed settings")),
    }
}

pub async fn put(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(settings): AdminJson<Map<String, Value>>,
) -> Answer {
    let settings = Value::Object(settings);
    team.store
        .set_managed_settings(Some(&settings), &caller.actor())
        .await?;
    match team.store.managed_settings().await? {
        Some(policy) => Ok(Json(view(&policy))),
        None => Err(ApiError(Error::internal(
            "the settings vanished after saving",
        ))),
    }
}

pub async fn delete(team: TeamState, Admin(caller): Admin) -> Result<StatusCode, ApiError> {
    team.store
        .set_managed_settings(None, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"settings","checksum","updated_at"}`.
fn view(policy: &ManagedSettings) -> Value {
    json!({
        "settings": policy.settings,
        "checksum": checksum(&policy.settings),
        "updated_at": rfc3339(policy.updated_at),
    })
}
