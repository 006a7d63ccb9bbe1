//! `GET/PUT/DELETE /admin/managed-settings`: the policy `/managed/settings` serves (admins
//! write, auditors read; the store call audits `managed_settings.set` / `.delete`). `PUT` takes
//! the settings document itself, a JSON object of at most 64 KiB.
//!
//! The admin API's `Admin`/`Reader`/`AdminJson` extractors are private to `team::api`, so the
//! same checks are made here through [`crate::team::auth::authenticate`].

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conduit_core::{Error, ErrorKind};
use conduit_store::{Actor, ManagedSettings, Role};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::managed::checksum;
use super::wire::PeerIp;
use crate::state::TeamState;
use crate::team::api::{ApiError, MAX_BODY_BYTES};
use crate::team::{Principal, PrincipalKind};

pub async fn get(team: TeamState, headers: HeaderMap) -> Result<Response, ApiError> {
    caller(&team, &headers, false).await?;
    match team.store.managed_settings().await? {
        Some(policy) => Ok(Json(view(&policy)).into_response()),
        None => Err(ApiError::not_found("managed settings")),
    }
}

pub async fn put(
    team: TeamState,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = caller(&team, &headers, true).await?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError(Error::new(
            ErrorKind::RequestTooLarge,
            format!("the settings are larger than {} KiB", MAX_BODY_BYTES / 1024),
        )));
    }
    let settings: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
    if !settings.is_object() {
        return Err(ApiError::invalid(
            "the body must be the settings document, a JSON object ({...})",
        ));
    }
    let actor = actor(&principal, ip);
    team.store
        .set_managed_settings(Some(&settings), &actor)
        .await?;
    match team.store.managed_settings().await? {
        Some(policy) => Ok(Json(view(&policy)).into_response()),
        None => Err(ApiError(Error::internal(
            "the settings vanished after saving",
        ))),
    }
}

pub async fn delete(
    team: TeamState,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = caller(&team, &headers, true).await?;
    team.store
        .set_managed_settings(None, &actor(&principal, ip))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"settings","checksum","updated_at"}`.
fn view(policy: &ManagedSettings) -> Value {
    let updated_at = OffsetDateTime::from_unix_timestamp(policy.updated_at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok());
    json!({
        "settings": policy.settings,
        "checksum": checksum(&policy.settings),
        "updated_at": updated_at,
    })
}

/// A signed-in person (session or IdP token, never a key or a gateway access token) with the
/// admin role (`write`) or the admin or auditor role.
async fn caller(team: &TeamState, headers: &HeaderMap, write: bool) -> Result<Principal, ApiError> {
    let mut refusal: Option<Error> = None;
    let mut person: Option<Principal> = None;
    for secret in crate::routes::guard::presented_keys(headers).filter(|s| !s.is_empty()) {
        match crate::team::auth::authenticate(team, secret).await {
            Ok(p) if matches!(p.kind, PrincipalKind::Session | PrincipalKind::IdpToken) => {
                person = Some(p);
                break;
            }
            Ok(_) => {
                refusal = refusal.or(Some(Error::new(
                    ErrorKind::Authentication,
                    "virtual keys and gateway access tokens are not admin credentials; sign in \
                     with /auth/login",
                )))
            }
            Err(e) => refusal = refusal.or(Some(e)),
        }
    }
    let person = person.ok_or_else(|| {
        ApiError(refusal.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Authentication,
                "missing credentials: send a session token from POST /auth/login as x-api-key \
                 or Authorization: Bearer",
            )
        }))
    })?;
    match (person.role, write) {
        (Role::Admin, _) | (Role::Auditor, false) => Ok(person),
        (Role::Auditor, true) => Err(ApiError::forbidden(
            "auditors can read but not change anything",
        )),
        (Role::Member, _) => Err(ApiError::forbidden("admin role required")),
    }
}

fn actor(principal: &Principal, ip: Option<std::net::IpAddr>) -> Actor {
    Actor {
        name: format!("user:{}", principal.subject.as_deref().unwrap_or("?")),
        user_id: principal.user_id.clone(),
        ip: ip.map(|ip| ip.to_string()),
    }
}
