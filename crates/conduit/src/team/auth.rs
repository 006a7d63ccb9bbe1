//! The bearer tiers of team mode, in order: a virtual key, a JWT (the gateway's own access
//! token when its `kid` is one of the gateway's signing keys, else an identity provider's), a
//! session token. Keys and sessions are digest lookups in the cache; a JWT names its user,
//! whose state the cache holds. A verified IdP token is remembered by its digest (until its
//! `exp`, at most 5 minutes), so the next request skips the signature and the store; the
//! user's state is still checked on every request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_core::{Error, ErrorKind};
use conduit_store::User;
use sha2::{Digest, Sha256};

use super::cache::CachedUser;
use super::oidc::{self, deactivated, validate_size};
use super::{Principal, PrincipalKind};
use crate::state::TeamState;

/// The principal a presented secret stands for, or the refusal to send.
pub async fn authenticate(team: &TeamState, secret: &str) -> Result<Principal, Error> {
    if !looks_like_jwt(secret) {
        return team.cache.authenticate(secret);
    }
    team.cache.check_fresh()?;
    validate_size(secret)?;
    match header_kid(secret) {
        Some(kid) if team.signer.owns(&kid) => gateway_token(team, secret),
        _ => idp_token(team, secret).await,
    }
}

/// Three non-empty base64url parts (keys and session tokens have no `.`).
fn looks_like_jwt(secret: &str) -> bool {
    secret.split('.').count() == 3
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The header's `kid`, read without checking anything.
fn header_kid(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Kid {
        kid: Option<String>,
    }
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice::<Kid>(&bytes).ok()?.kid
}

/// An access token the gateway signed (Claude Code's gateway sign-in).
fn gateway_token(team: &TeamState, token: &str) -> Result<Principal, Error> {
    let claims = team.signer.verify(token)?;
    if team.cache.family_revoked(&claims.family_id) {
        return Err(Error::new(
            ErrorKind::Authentication,
            "this sign-in was revoked (signed out): sign in again with /login",
        ));
    }
    let user = team.cache.user(&claims.user_id)?.filter(|u| u.active);
    let Some(user) = user else {
        return Err(Error::new(
            ErrorKind::Authentication,
            "this sign-in's account is unknown or deactivated: sign in again",
        ));
    };
    Ok(principal(
        format!("tok:{}", claims.family_id),
        PrincipalKind::GatewayToken,
        &claims.user_id,
        user,
    ))
}

/// A JWT from an identity provider: remembered, or verified and its user resolved.
async fn idp_token(team: &TeamState, token: &str) -> Result<Principal, Error> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let short = &hex::encode(digest)[..12];
    if let Some(hit) = team.oidc.recall(&digest) {
        let credential_id = format!("idp:{}:{short}", hit.idp_id);
        return match team.cache.user(&hit.user_id)? {
            Some(user) if user.active => Ok(principal(
                credential_id,
                PrincipalKind::IdpToken,
                &hit.user_id,
                user,
            )),
            Some(_) => Err(deactivated()),
            // Not in the cache (a user just provisioned elsewhere): verify afresh.
            None => verify(team, token, digest, short).await,
        };
    }
    verify(team, token, digest, short).await
}

async fn verify(
    team: &TeamState,
    token: &str,
    digest: [u8; 32],
    short: &str,
) -> Result<Principal, Error> {
    let (identity, exp) = team.oidc.verify_bearer_until(token).await?;
    let user = oidc::resolve_user(&team.store, &team.oidc, &identity).await?;
    let credential_id = format!("idp:{}:{short}", identity.idp_id);
    // A user provisioned just now is not in the cache yet: pull it in, so later requests
    // (answered from memory) find it.
    if team.cache.user(&user.id)?.is_none() {
        if let Err(e) = team.cache.sync_now(&team.store).await {
            tracing::debug!("cache sync after provisioning failed: {e}");
        }
    }
    team.oidc.remember(digest, &user.id, &identity.idp_id, exp);
    Ok(principal(
        credential_id,
        PrincipalKind::IdpToken,
        &user.id,
        cached(&user),
    ))
}

fn cached(user: &User) -> CachedUser {
    CachedUser {
        subject: user.subject.clone(),
        role: user.role,
        team_id: user.team_id.clone(),
        active: user.active,
    }
}

fn principal(
    credential_id: String,
    kind: PrincipalKind,
    user_id: &str,
    user: CachedUser,
) -> Principal {
    Principal {
        credential_id,
        kind,
        user_id: Some(user_id.to_owned()),
        subject: Some(user.subject),
        team_id: user.team_id,
        role: user.role,
        rate_limit_rpm: None,
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    #[test]
    fn jwt_shape() {
        for (secret, jwt) in [
            ("eyJh.eyJz.c2ln", true),
            ("a-_.b.c", true),
            ("sk-proxy-0123", false),
            ("cst_0123abcd", false),
            ("a.b", false),
            ("a.b.c.d", false),
            ("a.b+.c", false),
        ] {
            assert_eq!(looks_like_jwt(secret), jwt, "{secret}");
        }
    }
}
