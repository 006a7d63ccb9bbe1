//! `POST /oauth/revoke` (RFC 7009): form `token` (+ `token_type_hint`, only a hint). A refresh
//! token, or one of the gateway's own access tokens, ends its whole sign-in (the family); an
//! unknown token changes nothing. Always 200 `{}`, except 503 while the store is down, so
//! Claude Code's `/logout` can try again.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conduit_store::Actor;
use serde_json::json;

use super::wire::{no_store, OAuthError};
use crate::state::TeamState;
use crate::team::wire::{digest, form, PeerIp};

pub async fn revoke(team: TeamState, PeerIp(ip): PeerIp, body: Bytes) -> Response {
    let form = form(&body);
    let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
    if token.is_empty() {
        return OAuthError::bad("invalid_request", "missing `token`").into_response();
    }
    let actor = |user_id: Option<String>| Actor {
        name: "oauth:revoke".into(),
        user_id,
        ip: ip.map(|ip| ip.to_string()),
    };
    // An access token the gateway signed names its family; anything else may be a refresh token.
    let result = match team.signer.verify(token) {
        Ok(claims) => {
            team.store
                .revoke_family(&claims.family_id, &actor(Some(claims.user_id)))
                .await
        }
        Err(_) => {
            team.store
                .revoke_refresh(&digest(token), &actor(None))
                .await
        }
    };
    match result {
        Ok(revoked) => {
            if revoked {
                // This instance refuses the sign-in's access tokens before it answers.
                crate::team::api::sync(&team).await;
            }
            no_store(StatusCode::OK, json!({}))
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}
