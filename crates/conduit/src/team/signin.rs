//! Signing a person in, shared by every door (`POST /auth/login`, the portal's form, the IdP
//! callback, the command-line sign-in): the password check with its throttle and failure
//! audit, and the session credential every door ends with (`cst_…`, stored as a SHA-256
//! digest, `SESSION_TTL_HOURS`, audited as `auth.login`, in this instance's cache before the
//! answer).

use std::sync::Arc;

use conduit_core::Error;
use conduit_store::{Actor, CredentialKind, NewCredential, User};
use serde_json::json;

use super::api::keys::mint as mint_secret;
use super::api::throttle::LoginThrottle;
use crate::state::TeamState;

/// A freshly made session: the secret (given once) and when it ends (Unix seconds).
pub struct Session {
    pub secret: String,
    pub expires_at: i64,
}

/// The session lifetime in seconds.
pub fn ttl_secs(team: &TeamState) -> i64 {
    i64::try_from(team.settings.session_ttl.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Who signed in, for the audit log.
pub fn actor(user: &User, ip: Option<&str>) -> Actor {
    Actor {
        name: format!("user:{}", user.subject),
        user_id: Some(user.id.clone()),
        ip: ip.map(str::to_owned),
    }
}

/// A username and password, checked under the throttle: `Ok(Some(user))`, `Ok(None)` for
/// every refusal alike (wrong password, unknown, inactive or password-less user: audited as
/// `auth.login_failed` with the reason and `via`, never the password), `Err` when throttled
/// (429 with the wait) or the store fails.
pub async fn password(
    team: &TeamState,
    throttle: &Arc<LoginThrottle>,
    ip: Option<&str>,
    username: &str,
    password: String,
    via: &str,
) -> Result<Option<User>, Error> {
    let attempt = throttle.begin(ip, username).map_err(|secs| {
        Error::limited(
            format!("too many failed sign-ins: try again in {secs} s"),
            secs,
        )
    })?;
    let user = team
        .store
        .user_by_subject(username)
        .await
        .map_err(super::api::store_error)?;
    match check(user, password).await? {
        Ok(user) => {
            attempt.succeeded();
            Ok(Some(user))
        }
        Err(reason) => {
            attempt.failed();
            let actor = Actor {
                name: "anonymous".to_owned(),
                user_id: None,
                ip: ip.map(str::to_owned),
            };
            let detail = json!({"username": username, "reason": reason, "via": via});
            team.store
                .audit(&actor, "auth.login_failed", None, detail)
                .await
                .map_err(super::api::store_error)?;
            Ok(None)
        }
    }
}

/// Verify off the async threads; an unknown user costs the same (a dummy hash). On failure,
/// why (for the audit log only).
async fn check(user: Option<User>, password: String) -> Result<Result<User, &'static str>, Error> {
    use super::password::{dummy_verify, verify};
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
    .map_err(|e| Error::internal(format!("password check failed: {e}")))
}

/// Make and store a session for `user`; `via` names the door (`session`, `portal`, `cli`,
/// `oidc:<idp>`) in the audit entry.
pub async fn session(
    team: &TeamState,
    user: &User,
    via: &str,
    ip: Option<&str>,
) -> Result<Session, Error> {
    let minted = mint_secret("cst_");
    let expires_at = super::wire::now().saturating_add(ttl_secs(team));
    let new = NewCredential {
        kind: CredentialKind::Session,
        digest: minted.digest,
        prefix: minted.display,
        name: via.to_owned(),
        user_id: Some(user.id.clone()),
        team_id: user.team_id.clone(),
        rate_limit_rpm: None,
        expires_at: Some(expires_at),
    };
    team.store
        .create_credential(&new, &actor(user, ip))
        .await
        .map_err(super::api::store_error)?;
    super::api::sync(team).await;
    Ok(Session {
        secret: minted.secret,
        expires_at,
    })
}
