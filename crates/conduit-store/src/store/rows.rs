//! Column lists and row decoding, shared by the queries (SQL stays `&'static str` via `concat!`).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{AuditEntry, Credential, CredentialKind, RevokedFamily, Role, StoreError, Team, User};

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

/// A text column holding one of an enum's names (`parse` is the enum's).
pub(super) fn text<T>(
    row: &AnyRow,
    col: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let value: String = get(row, col)?;
    parse(&value).ok_or_else(|| StoreError::Internal(format!("unknown {col} {value:?}")))
}

pub(super) fn user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: get(row, "id")?,
        subject: get(row, "subject")?,
        email: get(row, "email")?,
        role: text(row, "role", Role::parse)?,
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
    Ok(Credential {
        id: get(row, "id")?,
        kind: text(row, "kind", CredentialKind::parse)?,
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

pub(super) fn revoked_family(row: &AnyRow) -> Result<RevokedFamily, StoreError> {
    Ok(RevokedFamily {
        id: get(row, "id")?,
        ends_at: get(row, "ends_at")?,
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
