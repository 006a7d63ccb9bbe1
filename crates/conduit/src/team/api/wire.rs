//! The admin API's wire shapes (CCAG's, plus conduit's additions) and their conversion from the
//! store's rows. Times are RFC 3339 UTC strings; secrets never appear in a listing.

use conduit_store::{AuditEntry, Credential, Team, User};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ApiError;

// ---- requests (unknown fields are ignored, as CCAG does) ----

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /admin/keys`; `/me/keys` reads the same body and ignores `user_id` and `team_id`.
#[derive(Debug, Deserialize)]
pub struct CreateKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub rate_limit_rpm: Option<i64>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CreateUser {
    /// The sign-in name; CCAG has none, so it defaults to `email`.
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateUser {
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SetTeam {
    #[serde(default)]
    pub team_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CreateTeam {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before: Option<String>,
}

// ---- responses ----

/// A key as listed: everything but the secret and its digest.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    pub prefix: String,
    pub name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub is_active: bool,
    pub rate_limit_rpm: Option<i64>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked: bool,
}

impl KeyView {
    pub fn new(c: &Credential, now: i64) -> Self {
        let revoked = c.revoked_at.is_some();
        let expired = c.expires_at.is_some_and(|t| t <= now);
        Self {
            id: c.id.clone(),
            prefix: c.prefix.clone(),
            name: c.name.clone(),
            user_id: c.user_id.clone(),
            team_id: c.team_id.clone(),
            is_active: !revoked && !expired,
            rate_limit_rpm: c.rate_limit_rpm,
            created_at: rfc3339(c.created_at),
            last_used_at: c.last_used_at.map(rfc3339),
            expires_at: c.expires_at.map(rfc3339),
            revoked_at: c.revoked_at.map(rfc3339),
            revoked,
        }
    }
}

/// The answer to a key creation: the only time the secret is shown.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub key: String,
    pub id: String,
    pub prefix: String,
    pub name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub rate_limit_rpm: Option<i64>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

impl CreatedKey {
    pub fn new(key: String, c: &Credential) -> Self {
        Self {
            key,
            id: c.id.clone(),
            prefix: c.prefix.clone(),
            name: c.name.clone(),
            user_id: c.user_id.clone(),
            team_id: c.team_id.clone(),
            rate_limit_rpm: c.rate_limit_rpm,
            created_at: rfc3339(c.created_at),
            expires_at: c.expires_at.map(rfc3339),
        }
    }
}

/// A user, never with the password hash.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub subject: String,
    pub email: Option<String>,
    pub role: &'static str,
    pub team_id: Option<String>,
    pub active: bool,
    pub has_password: bool,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            subject: u.subject.clone(),
            email: u.email.clone(),
            role: u.role.as_str(),
            team_id: u.team_id.clone(),
            active: u.active,
            has_password: u.password_hash.is_some(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl From<&Team> for TeamView {
    fn from(t: &Team) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at_ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        Self {
            id: e.id,
            at,
            actor: e.actor,
            user_id: e.actor_user_id,
            ip: e.ip,
            action: e.action,
            target: e.target,
            detail: e.detail,
        }
    }
}

// ---- times ----

pub use crate::team::wire::{now, rfc3339};

/// An RFC 3339 `expires_at` from a request, which must lie in the future.
pub fn future_time(field: &str, value: &str) -> Result<i64, ApiError> {
    let t = OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        ApiError::invalid(format!(
            "{field}: not an RFC 3339 time ({e}); write it like 2030-01-31T00:00:00Z"
        ))
    })?;
    let secs = t.unix_timestamp();
    if secs <= now() {
        return Err(ApiError::invalid(format!(
            "{field}: {value} is in the past"
        )));
    }
    Ok(secs)
}
