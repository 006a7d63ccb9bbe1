//! Session credentials minted for browsers (the portal cookie) and the command line (the CLI
//! sign-in's token): the same kind `/auth/login` makes (`cst_…`, stored as a SHA-256 digest,
//! `SESSION_TTL_HOURS`), made visible to this instance's cache before the answer.

use conduit_core::Error;
use conduit_store::{Actor, CredentialKind, NewCredential, User};

use super::cookie::digest;
use crate::state::TeamState;

/// A freshly minted session: the secret (given once) and when it ends (Unix seconds).
pub struct Minted {
    pub secret: String,
    pub expires_at: i64,
}

/// Who did it, for the audit log.
pub fn actor(user: &User, ip: Option<&str>) -> Actor {
    Actor {
        name: format!("user:{}", user.subject),
        user_id: Some(user.id.clone()),
        ip: ip.map(str::to_owned),
    }
}

/// The session TTL in seconds.
pub fn ttl_secs(team: &TeamState) -> i64 {
    i64::try_from(team.settings.session_ttl.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Mint and store a session for `user` named `name` (audited as `auth.login` by the store).
pub async fn mint(
    team: &TeamState,
    user: &User,
    name: &str,
    ip: Option<&str>,
) -> Result<Minted, Error> {
    let secret = format!("cst_{}", hex::encode(rand::random::<[u8; 32]>()));
    let expires_at = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .saturating_add(ttl_secs(team));
    let new = NewCredential {
        kind: CredentialKind::Session,
        digest: digest(&secret),
        prefix: format!("{}...", &secret[..16]),
        name: name.to_owned(),
        user_id: Some(user.id.clone()),
        team_id: user.team_id.clone(),
        rate_limit_rpm: None,
        expires_at: Some(expires_at),
    };
    team.store
        .create_credential(&new, &actor(user, ip))
        .await
        .map_err(crate::team::api::store_error)?;
    sync(team).await;
    Ok(Minted { secret, expires_at })
}

/// Pull this instance's own write into its cache (the sync task catches up should it fail).
pub async fn sync(team: &TeamState) {
    if let Err(e) = team.cache.sync_now(&team.store).await {
        tracing::warn!(error = %e, "team cache sync after a write failed");
    }
}
