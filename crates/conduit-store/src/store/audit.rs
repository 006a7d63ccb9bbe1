//! The audit log: a row written in the same transaction as the write it records, and the
//! newest-first listing.

use sqlx::AnyConnection;

use super::rows::{self, audit_cols};
use super::{new_id, now_ms, Store};
use crate::{Actor, AuditEntry, StoreError};

/// The most entries one `list_audit` call returns.
pub const AUDIT_PAGE_MAX: i64 = 1000;

/// Insert one audit row on `conn` (the caller's transaction).
pub(super) async fn write(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (id, at_ms, actor, actor_user_id, ip, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(&actor.name)
    .bind(actor.user_id.as_deref())
    .bind(actor.ip.as_deref())
    .bind(action)
    .bind(target)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Audit an action that writes nothing else (a failed login, say).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        write(&mut conn, actor, action, target, &detail).await
    }

    /// Newest first (by time, then id), at most `limit` (capped at [`AUDIT_PAGE_MAX`]), older
    /// than the entry `before` when given (`NotFound{what:"audit entry"}` for an unknown id).
    pub async fn list_audit(
        &self,
        limit: i64,
        before: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = limit.clamp(0, AUDIT_PAGE_MAX);
        let rows = match before {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit ORDER BY at_ms DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some(before) => {
                let mut conn = self.pool.acquire().await?;
                let at: Option<i64> = sqlx::query_scalar("SELECT at_ms FROM audit WHERE id = $1")
                    .bind(before)
                    .fetch_optional(&mut *conn)
                    .await?;
                let at = at.ok_or(StoreError::NotFound {
                    what: "audit entry",
                })?;
                sqlx::query(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit WHERE at_ms < $1 OR (at_ms = $1 AND id < $2) \
                     ORDER BY at_ms DESC, id DESC LIMIT $3"
                ))
                .bind(at)
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        rows::all(&rows, rows::audit)
    }
}
