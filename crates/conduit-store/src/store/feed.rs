//! The change feed: one version bumped in each write's transaction, `changes_since`, and the
//! Postgres NOTIFY listener (channel `conduit_auth`, payload the new version).

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::AnyConnection;

use super::idps::{self, idp_cols};
use super::rows::{self, credential_cols, user_cols};
use super::{Engine, Store, ACQUIRE_TIMEOUT};
use crate::{Changes, StoreError};

/// The NOTIFY channel every write announces its version on.
pub(crate) const CHANNEL: &str = "conduit_auth";

/// Wakes an instance when another one wrote (Postgres NOTIFY on channel `conduit_auth`).
pub struct ChangeListener {
    listener: PgListener,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// The next change version announced; `Err` when the connection dropped (the caller
    /// reconnects after a pause and polls meanwhile). A later call reconnects by itself; the
    /// notifications sent meanwhile are lost, which is why the caller polls.
    pub async fn recv(&mut self) -> Result<i64, StoreError> {
        loop {
            match self.listener.try_recv().await? {
                None => {
                    return Err(StoreError::Unavailable(
                        "the change notification connection was lost".into(),
                    ))
                }
                Some(n) => match n.payload().parse::<i64>() {
                    Ok(version) => return Ok(version),
                    Err(_) => tracing::warn!(
                        channel = CHANNEL,
                        "ignoring a notification whose payload is not a version"
                    ),
                },
            }
        }
    }
}

impl Store {
    /// Postgres only: a listener for other instances' writes. `Ok(None)` on SQLite.
    pub async fn listen(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.engine != Engine::Postgres {
            return Ok(None);
        }
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect(&self.url)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeListener { listener }))
    }

    /// Every user, credential and identity provider (deleted ones too) whose row version is
    /// above `version` (all rows for 0), and the version now. The version is read first: a row
    /// written meanwhile comes back again on the next call, never goes missing (each write holds
    /// the version row until it commits).
    pub async fn changes_since(&self, version: i64) -> Result<Changes, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let now: i64 = sqlx::query_scalar("SELECT version FROM auth_version WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let users = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE version > $1 ORDER BY version, id"
        ))
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
        let credentials = sqlx::query(concat!(
            "SELECT ",
            credential_cols!(),
            " FROM credentials WHERE version > $1 ORDER BY version, id"
        ))
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
        let idps = sqlx::query(concat!(
            "SELECT ",
            idp_cols!(),
            " FROM idps WHERE version > $1 ORDER BY version, id"
        ))
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
        let families = sqlx::query(
            "SELECT id, ends_at FROM refresh_families \
             WHERE version > $1 AND revoked_at IS NOT NULL AND ends_at > $2 ORDER BY version, id",
        )
        .bind(version)
        .bind(super::now_s())
        .fetch_all(&mut *conn)
        .await?;
        Ok(Changes {
            version: now,
            users: rows::all(&users, rows::user)?,
            credentials: rows::all(&credentials, rows::credential)?,
            idps: rows::all(&idps, idps::idp)?,
            revoked_families: rows::all(&families, rows::revoked_family)?,
        })
    }

    /// The change version now (cheap: one row).
    pub async fn version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM auth_version WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Inside a write's transaction: take the next version (the row stays locked until commit,
    /// so versions commit in order) and, on Postgres, announce it at commit.
    pub(super) async fn bump(&self, conn: &mut AnyConnection) -> Result<i64, StoreError> {
        let version: i64 = sqlx::query_scalar(
            "UPDATE auth_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut *conn)
        .await?;
        if self.engine == Engine::Postgres {
            // NOTIFY is delivered at commit, and not at all on rollback. The payload is our
            // own integer, so formatting it into the statement is safe.
            let notify = format!("NOTIFY {CHANNEL}, '{version}'");
            sqlx::query(sqlx::AssertSqlSafe(notify))
                .execute(&mut *conn)
                .await?;
        }
        Ok(version)
    }
}
