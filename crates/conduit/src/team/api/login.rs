//! `/auth/login`, `/auth/logout`, `/auth/me`: password sign-in to a session token (`cst_…`),
//! throttled per address and username, with one answer for every failure so that it never
//! tells whether a user exists.

use std::sync::Arc;

use axum::{Extension, Json};
use conduit_core::Error;
use conduit_store::{Actor, CredentialKind, NewCredential, User};
use serde_json::{json, Value};

use super::caller::{Caller, ClientIp, Identity};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::keys::mint;
use super::throttle::LoginThrottle;
use super::wire::{self, LoginRequest};
use crate::state::TeamState;
use crate::team::PrincipalKind;

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
    let attempt = throttle.begin(ip, &body.username).map_err(|secs| {
        ApiError(Error::limited(
            format!("too many failed sign-ins: try again in {secs} s"),
            secs,
        ))
    })?;
    let user = team.store.user_by_subject(&body.username).await?;
    let user = match check(user, body.password).await? {
        Ok(user) => user,
        Err(reason) => {
            attempt.failed();
            let actor = Actor {
                name: "anonymous".to_owned(),
                user_id: None,
                ip: ip.map(str::to_owned),
            };
            let detail = json!({"username": body.username, "reason": reason});
            team.store
                .audit(&actor, "auth.login_failed", None, detail)
                .await?;
            return Err(ApiError::unauthenticated(REFUSED));
        }
    };
    attempt.succeeded();
    start_session(&team, &user, ip).await
}

/// Verify off the async threads; an unknown user costs the same (a dummy hash). On failure,
/// why (for the audit log only: the client's answer is always [`REFUSED`]).
async fn check(user: Option<User>, password: String) -> ApiResult<Result<User, &'static str>> {
    use crate::team::password::{dummy_verify, verify};
    tokio::task::spawn_blocking(move || {
        let Some(user) = user else {
            dummy_verify(&password);
            return Err("unknown user");
        };
        let Some(phc) = user.password_hash.as_deref() else {
            dummy_verify(&password);
            return Err("no password set");
        };
        if !verify(&password, phc) {
            Err("wrong password")
        } else if !user.active {
            Err("inactive user")
        } else {
            Ok(user)
        }
    })
    .await
    .map_err(|e| ApiError(Error::internal(format!("password check failed: {e}"))))
}

/// Mint and store a session (audited as `auth.login`), answer with the token.
async fn start_session(team: &TeamState, user: &User, ip: Option<&str>) -> ApiResult<Json<Value>> {
    let minted = mint("cst_");
    let ttl = i64::try_from(team.settings.session_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let expires_at = wire::now().saturating_add(ttl);
    let new = NewCredential {
        kind: CredentialKind::Session,
        digest: minted.digest,
        prefix: minted.display,
        name: "session".to_owned(),
        user_id: Some(user.id.clone()),
        team_id: user.team_id.clone(),
        rate_limit_rpm: None,
        expires_at: Some(expires_at),
    };
    let actor = Actor {
        name: format!("user:{}", user.subject),
        user_id: Some(user.id.clone()),
        ip: ip.map(str::to_owned),
    };
    team.store.create_credential(&new, &actor).await?;
    super::sync(team).await;
    Ok(Json(json!({
        "token": minted.secret,
        "expires_at": wire::rfc3339(expires_at),
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

/// `GET /auth/me`: who the credential presented (a session or a virtual key) belongs to.
pub async fn me(Identity { principal: p }: Identity) -> Json<Value> {
    let kind = match p.kind {
        PrincipalKind::Session => "session",
        PrincipalKind::Key => "virtual_key",
        PrincipalKind::GatewayToken => "gateway_token",
        PrincipalKind::IdpToken => "oidc",
    };
    Json(json!({
        "type": kind,
        "user_id": p.user_id,
        "subject": p.subject,
        "role": p.role.as_str(),
        "team_id": p.team_id,
        "credential_id": p.credential_id,
    }))
}
