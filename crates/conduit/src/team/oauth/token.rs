//! `POST /oauth/token`: the device-code grant (polled until the person decides; the code is
//! consumed atomically with the first refresh token), the authorization-code grant of
//! `conduit token login` (the code consumed atomically with the first refresh token, spent by a
//! wrong verifier too) and the refresh-token grant (rotated on every use; a spent token is
//! refused alone, so a second terminal that lost the race does not end the sign-in). No client
//! authentication: the gateway's clients are public (`client_id` is optional, and only
//! `conduit-cli` is known).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

use conduit_store::{CodeExchange, CodeRedemption, DevicePoll, RefreshOutcome};
use serde_json::json;

use super::keys::secs;
use super::metadata::DEVICE_CODE_GRANT;
use super::signer::SCOPE;
use super::wire::{field, no_store, OAuthError};
use super::CLI_CLIENT_ID;
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
        "authorization_code" => authorization_code(team, &form).await,
        "refresh_token" => refresh(team, field(&form, "refresh_token")?).await,
        other => Err(OAuthError::bad(
            "unsupported_grant_type",
            format!(
                "grant_type `{}` is not supported: use authorization_code, {DEVICE_CODE_GRANT} \
                 or refresh_token",
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
            issued(team, &user_id, &family_id, refresh_token).await
        }
    }
}

async fn authorization_code(
    team: &TeamState,
    form: &HashMap<String, String>,
) -> Result<Response, OAuthError> {
    let client_id = form.get("client_id").map(|c| c.trim());
    if client_id.is_some_and(|c| !c.is_empty() && c != CLI_CLIENT_ID) {
        return Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            ..OAuthError::bad(
                "invalid_client",
                format!("unknown client_id: this gateway's only client is {CLI_CLIENT_ID}"),
            )
        });
    }
    let (code, redirect_uri) = (field(form, "code")?, field(form, "redirect_uri")?);
    let verifier = field(form, "code_verifier")?;
    let refresh_token = random_token();
    let now = now();
    let ends_at = now.saturating_add(secs(team.settings.refresh_ttl));
    let (code_digest, verifier_digest) = (digest(code), digest(verifier));
    let exchange = CodeExchange {
        code_digest: &code_digest,
        verifier_digest: &verifier_digest,
        redirect_uri,
    };
    let redeemed = team
        .store
        .redeem_authorization_code(exchange, &digest(&refresh_token), ends_at, now)
        .await?;
    let refused = |why: &str| Err(OAuthError::bad("invalid_grant", why));
    match redeemed {
        CodeRedemption::Issued { user_id, family_id } => {
            tracing::info!(user_id = %user_id, family_id = %family_id, "authorization code redeemed");
            issued(team, &user_id, &family_id, refresh_token).await
        }
        CodeRedemption::WrongVerifier => refused(
            "code_verifier does not match the code_challenge; the code is spent: sign in again",
        ),
        CodeRedemption::WrongRedirectUri => refused(
            "redirect_uri differs from the authorization request's; the code is spent: sign in \
             again",
        ),
        CodeRedemption::Invalid => {
            refused("authorization code unknown, expired or already used: sign in again")
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
        RefreshOutcome::Rotated { user_id, family_id } => {
            tracing::info!(family_id = %family_id, "refresh token rotated");
            issued(team, &user_id, &family_id, new).await
        }
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
async fn issued(
    team: &TeamState,
    user_id: &str,
    family_id: &str,
    refresh_token: String,
) -> Result<Response, OAuthError> {
    // An account a sign-in made a moment ago (the IdP callback provisioned it, here or at
    // another instance) is not in this instance's cache until the next sync, and its token
    // would be refused until then: pull it in before answering. Known users cost one lookup.
    if !matches!(team.cache.user(user_id), Ok(Some(_))) {
        crate::team::api::sync(team).await;
    }
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
