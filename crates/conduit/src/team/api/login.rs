//! `/auth/login`, `/auth/logout`, `/auth/me`: password sign-in to a session token (`cst_…`),
//! throttled per address and username, with one answer for every failure so that it never
//! tells whether a user exists; who a credential is.

use std::sync::Arc;

use axum::{Extension, Json};
use serde_json::{json, Value};

use super::caller::{Caller, ClientIp, Identity};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::throttle::LoginThrottle;
use super::wire::{self, LoginRequest};
use crate::state::TeamState;
use crate::team::{signin, PrincipalKind};

/// The one refusal for a wrong password, an unknown or inactive user, or one without a password.
const REFUSED: &str = "invalid username or password";

/// `POST /auth/login {"username","password"}`.
pub async fn login(
    team: TeamState,
    Extension(throttle): Extension<Arc<LoginThrottle>>,
    ClientIp(ip): ClientIp,
    AdminJson(body): AdminJson<LoginRequest>,
) -> ApiResult<Json<Value>> {
    let ip = ip.as_deref();
    let checked =
        signin::password(&team, &throttle, ip, &body.username, body.password, "api").await?;
    let Some(user) = checked else {
        return Err(ApiError::unauthenticated(REFUSED));
    };
    let session = signin::session(&team, &user, "session", ip).await?;
    Ok(Json(json!({
        "token": session.secret,
        "expires_at": wire::rfc3339(session.expires_at),
        "role": user.role.as_str(),
        "type": "session",
        "user_id": user.id,
    })))
}

/// `POST /auth/logout`: ends the session presented.
pub async fn logout(team: TeamState, caller: Caller) -> ApiResult<Json<Value>> {
    team.store
        .revoke_credential(
            &caller.principal.credential_id,
            "auth.logout",
            &caller.actor(),
        )
        .await?;
    super::sync(&team).await;
    Ok(Json(json!({"logged_out": true})))
}

/// `GET /auth/me`: who the credential presented (a session, a virtual key, a gateway access
/// token or an IdP token) belongs to, with the person's `email` and `name` (the subject of a
/// local user, the IdP's `sub` for a person from an identity provider; both `null` for a key
/// without an owner).
pub async fn me(team: TeamState, Identity { principal: p }: Identity) -> ApiResult<Json<Value>> {
    let kind = match p.kind {
        PrincipalKind::Session => "session",
        PrincipalKind::Key => "virtual_key",
        PrincipalKind::GatewayToken => "gateway_token",
        PrincipalKind::IdpToken => "oidc",
    };
    let user = match p.user_id.as_deref() {
        Some(id) => team.store.user(id).await?,
        None => None,
    };
    let name = user.as_ref().map(|u| {
        u.external_subject
            .clone()
            .unwrap_or_else(|| u.subject.clone())
    });
    Ok(Json(json!({
        "type": kind,
        "user_id": p.user_id,
        "subject": p.subject,
        "email": user.and_then(|u| u.email),
        "name": name,
        "role": p.role.as_str(),
        "team_id": p.team_id,
        "credential_id": p.credential_id,
    })))
}
