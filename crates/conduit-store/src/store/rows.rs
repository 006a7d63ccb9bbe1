//! Column lists and row decoding, shared by the queries (SQL stays `&'static str` via `concat!`).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{AuditEntry, Credential, CredentialKind, Role, StoreError, Team, User};

/// The `users` columns [`user`] reads, in order.
macro_rules! user_cols {
    () => {
        "id, subject, email, role, team_id, active, password_hash, created_at, version, issuer, \
         external_subject, idp_id"
    };
}

/// The `teams` columns [`team`] reads.
macro_rules! team_cols {
    () => {
        "id, name, created_at"
    };
}

/// The `credentials` columns [`credential`] reads.
macro_rules! credential_cols {
    () => {
        "id, kind, digest, prefix, name, user_id, team_id, rate_limit_rpm, created_at, \
         expires_at, last_used_at, revoked_at, version"
    };
}

/// The `audit` columns [`audit`] reads.
macro_rules! audit_cols {
    () => {
        "id, at_ms, actor, actor_user_id, ip, action, target, detail"
    };
}

pub(super) use {audit_cols, credential_cols, team_cols, user_cols};

pub(super) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Internal(format!("reading column {col}: {e}")))
}

pub(super) fn user(row: &AnyRow) -> Result<User, StoreError> {
    let role: String = get(row, "role")?;
    Ok(User {
        id: get(row, "id")?,
        subject: get(row, "subject")?,
        email: get(row, "email")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Internal(format!("unknown role {role:?} in users")))?,
        team_id: get(row, "team_id")?,
        active: get::<i64>(row, "active")? != 0,
        password_hash: get(row, "password_hash")?,
        created_at: get(row, "created_at")?,
        version: get(row, "version")?,
        issuer: get(row, "issuer")?,
        external_subject: get(row, "external_subject")?,
        idp_id: get(row, "idp_id")?,
    })
}

pub(super) fn team(row: &AnyRow) -> Result<Team, StoreError> {
    Ok(Team {
        id: get(row, "id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
    })
}

pub(super) fn credential(row: &AnyRow) -> Result<Credential, StoreError> {
    let kind: String = get(row, "kind")?;
    Ok(Credential {
        id: get(row, "id")?,
        kind: match kind.as_str() {
            "key" => CredentialKind::Key,
            "session" => CredentialKind::Session,
            other => {
                return Err(StoreError::Internal(format!(
                    "unknown credential kind {other:?}"
                )))
            }
        },
        digest: get(row, "digest")?,
        prefix: get(row, "prefix")?,
        name: get(row, "name")?,
        user_id: get(row, "user_id")?,
        team_id: get(row, "team_id")?,
        rate_limit_rpm: get(row, "rate_limit_rpm")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
        version: get(row, "version")?,
    })
}

pub(super) fn audit(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let detail: String = get(row, "detail")?;
    Ok(AuditEntry {
        id: get(row, "id")?,
        at_ms: get(row, "at_ms")?,
        actor: get(row, "actor")?,
        actor_user_id: get(row, "actor_user_id")?,
        ip: get(row, "ip")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Internal(format!("audit detail is not JSON: {e}")))?,
    })
}

/// Decode every row with `f`.
pub(super) fn all<T>(
    rows: &[AnyRow],
    f: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(f).collect()
}
