//! `POST /oauth/token`: the device-code grant (polled until the person decides; the code is
//! consumed atomically with the first refresh token) and the refresh-token grant (rotated on
//! every use; a spent token is refused alone, so a second terminal that lost the race does not
//! end the sign-in). No `client_id`: the gateway has one built-in client.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conduit_store::{DevicePoll, RefreshOutcome};
use serde_json::json;

use super::keys::secs;
use super::metadata::DEVICE_CODE_GRANT;
use super::signer::SCOPE;
use super::wire::{field, no_store, OAuthError};
use crate::state::TeamState;
use crate::team::wire::{digest, form, now, random_token};

pub async fn token(team: TeamState, body: Bytes) -> Response {
    match grant(&team, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn grant(team: &TeamState, body: &[u8]) -> Result<Response, OAuthError> {
    let form = form(body);
    match field(&form, "grant_type")? {
        DEVICE_CODE_GRANT => device_code(team, field(&form, "device_code")?).await,
        "refresh_token" => refresh(team, field(&form, "refresh_token")?).await,
        other => Err(OAuthError::bad(
            "unsupported_grant_type",
            format!(
                "grant_type `{}` is not supported: use {DEVICE_CODE_GRANT} or refresh_token",
                other.chars().take(100).collect::<String>()
            ),
        )),
    }
}

async fn device_code(team: &TeamState, device_code: &str) -> Result<Response, OAuthError> {
    let refresh_token = random_token();
    let now = now();
    let ends_at = now.saturating_add(secs(team.settings.refresh_ttl));
    let poll = team
        .store
        .poll_device_code(&digest(device_code), &digest(&refresh_token), ends_at, now)
        .await?;
    match poll {
        DevicePoll::Pending => Err(OAuthError::bare("authorization_pending")),
        DevicePoll::SlowDown => Err(OAuthError::bare("slow_down")),
        DevicePoll::Denied => Err(OAuthError::bare("access_denied")),
        DevicePoll::Expired => Err(OAuthError::bare("expired_token")),
        DevicePoll::Issued { user_id, family_id } => {
            tracing::info!(user_id = %user_id, family_id = %family_id, "device sign-in issued");
            issued(team, &user_id, &family_id, refresh_token)
        }
    }
}

async fn refresh(team: &TeamState, old: &str) -> Result<Response, OAuthError> {
    let new = random_token();
    let outcome = team
        .store
        .rotate_refresh(&digest(old), &digest(&new), now())
        .await?;
    match outcome {
        RefreshOutcome::Rotated { user_id, family_id } => issued(team, &user_id, &family_id, new),
        RefreshOutcome::Replayed => Err(OAuthError::bad(
            "invalid_grant",
            "refresh token already used; use the newer one",
        )),
        // 401, not 400: Claude Code's gateway protocol makes a 401 `invalid_grant` its
        // re-login prompt (revoked, ended, deprovisioned). A replay above stays 400, so a
        // second terminal that lost the race picks up the winner's pair instead.
        RefreshOutcome::Invalid => Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            ..OAuthError::bad(
                "invalid_grant",
                "refresh token invalid, expired or revoked: sign in again",
            )
        }),
    }
}

/// The token answer, with a new access token for the pair.
fn issued(
    team: &TeamState,
    user_id: &str,
    family_id: &str,
    refresh_token: String,
) -> Result<Response, OAuthError> {
    let (access_token, exp) = team.signer.sign(user_id, family_id)?;
    Ok(no_store(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": (exp - now()).max(0),
            "refresh_token": refresh_token,
            "scope": SCOPE,
        }),
    ))
}
