//! Rate limits per key, user and team (`rate_limits`: list, set and delete, audited), the
//! concurrency leases of open streams (`stream_leases`), and [`LimitTx`]: one transaction in
//! which the gateway counts a request against every limit that applies and either keeps all of
//! it (admitted) or none of it (refused).

use serde_json::json;
use sqlx::{Any, AnyConnection, Transaction};

use super::rows::get;
use super::{audit, now_s, rates, Engine, Store};
use crate::{Actor, StoreError};

/// What a rate limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateScope {
    Key,
    User,
    Team,
}

impl RateScope {
    pub const ALL: [RateScope; 3] = [RateScope::Key, RateScope::User, RateScope::Team];

    pub fn as_str(self) -> &'static str {
        match self {
            RateScope::Key => "key",
            RateScope::User => "user",
            RateScope::Team => "team",
        }
    }

    pub fn parse(s: &str) -> Option<RateScope> {
        RateScope::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// One `rate_limits` row. `None` is no limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub scope_type: RateScope,
    pub scope_id: String,
    /// Requests per minute.
    pub rpm: Option<i64>,
    /// Tokens per minute.
    pub tpm: Option<i64>,
    /// Concurrent streams.
    pub max_streams: Option<i64>,
    /// Unix seconds of the last write.
    pub updated_at: i64,
}

impl Store {
    /// Every rate limit, by scope type then id.
    pub async fn list_rate_limits(&self) -> Result<Vec<RateLimit>, StoreError> {
        let rows = sqlx::query(
            "SELECT scope_type, scope_id, rpm, tpm, max_streams, updated_at FROM rate_limits \
             ORDER BY scope_type, scope_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let scope: String = get(row, "scope_type")?;
                Ok(RateLimit {
                    scope_type: RateScope::parse(&scope).ok_or_else(|| {
                        StoreError::Internal(format!("unknown scope_type {scope:?}"))
                    })?,
                    scope_id: get(row, "scope_id")?,
                    rpm: get(row, "rpm")?,
                    tpm: get(row, "tpm")?,
                    max_streams: get(row, "max_streams")?,
                    updated_at: get(row, "updated_at")?,
                })
            })
            .collect()
    }

    /// Set (insert or replace) the limits of one key, user or team: `NotFound` ("key", "user",
    /// "team") when it does not exist. Audited as `limit.set` on `<scope_type>:<scope_id>`.
    pub async fn set_rate_limit(
        &self,
        scope_type: RateScope,
        scope_id: &str,
        rpm: Option<i64>,
        tpm: Option<i64>,
        max_streams: Option<i64>,
        actor: &Actor,
    ) -> Result<RateLimit, StoreError> {
        let limit = RateLimit {
            scope_type,
            scope_id: scope_id.to_owned(),
            rpm,
            tpm,
            max_streams,
            updated_at: now_s(),
        };
        // Written first, checked after (rolled back when the target is missing): on SQLite a
        // transaction that reads before it writes may not get the write lock.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO rate_limits (scope_type, scope_id, rpm, tpm, max_streams, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope_type, scope_id) DO UPDATE SET \
             rpm = excluded.rpm, tpm = excluded.tpm, max_streams = excluded.max_streams, \
             updated_at = excluded.updated_at",
        )
        .bind(scope_type.as_str())
        .bind(scope_id)
        .bind(rpm)
        .bind(tpm)
        .bind(max_streams)
        .bind(limit.updated_at)
        .execute(&mut *tx)
        .await?;
        require_scope(&mut tx, scope_type, scope_id).await?;
        let target = format!("{}:{scope_id}", scope_type.as_str());
        let detail = json!({ "rpm": rpm, "tpm": tpm, "max_streams": max_streams });
        audit::write(&mut tx, actor, "limit.set", Some(&target), &detail).await?;
        tx.commit().await?;
        Ok(limit)
    }

    /// Remove the limits of one key, user or team: `NotFound{what:"rate limit"}` when it had
    /// none. Audited as `limit.delete`.
    pub async fn delete_rate_limit(
        &self,
        scope_type: RateScope,
        scope_id: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM rate_limits WHERE scope_type = $1 AND scope_id = $2")
            .bind(scope_type.as_str())
            .bind(scope_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "rate limit" });
        }
        let target = format!("{}:{scope_id}", scope_type.as_str());
        audit::write(&mut tx, actor, "limit.delete", Some(&target), &json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Take a lease on `name` (id `id`, until `expires_ms`) unless `max` unexpired leases hold
    /// it already at `now_ms`; whether it was taken. Atomic across instances.
    pub async fn acquire_lease(
        &self,
        name: &str,
        id: &str,
        max: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_limits().await?;
        let taken = tx.acquire_lease(name, id, max, now_ms, expires_ms).await?;
        if taken {
            tx.commit().await?;
        }
        Ok(taken)
    }

    /// End the leases `ids` (unknown ids are ignored).
    pub async fn release_leases(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        for id in ids {
            sqlx::query("DELETE FROM stream_leases WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// How many leases hold `name` at `now_ms`.
    pub async fn count_leases(&self, name: &str, now_ms: i64) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM stream_leases WHERE name = $1 AND expires_at > $2",
        )
        .bind(name)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// Start the transaction of one admission.
    pub async fn begin_limits(&self) -> Result<LimitTx, StoreError> {
        Ok(LimitTx {
            tx: self.pool.begin().await?,
            engine: self.engine,
        })
    }
}

/// One admission's transaction: what it counts is kept by [`LimitTx::commit`] and undone by
/// [`LimitTx::rollback`] (or by dropping it). Callers take their counters and leases in one
/// order (key, user, team), so that two admissions never wait on each other in a cycle.
pub struct LimitTx {
    tx: Transaction<'static, Any>,
    engine: Engine,
}

impl LimitTx {
    /// Count one hit of `name` in the window starting at `window_start`; `(current including
    /// this one, previous)`. The counter stays locked until the transaction ends.
    pub async fn hit(&mut self, name: &str, window_start: i64) -> Result<(i64, i64), StoreError> {
        rates::add(&mut self.tx, name, window_start, 1).await
    }

    /// `name`'s `(current, previous)` counts, counting nothing.
    pub async fn counts(
        &mut self,
        name: &str,
        window_start: i64,
    ) -> Result<(i64, i64), StoreError> {
        rates::counts(&mut self.tx, name, window_start).await
    }

    /// Take a lease on `name` unless `max` unexpired ones hold it (the expired ones are
    /// deleted first); whether it was taken. `name` stays locked until the transaction ends.
    pub async fn acquire_lease(
        &mut self,
        name: &str,
        id: &str,
        max: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<bool, StoreError> {
        acquire(&mut self.tx, self.engine, name, id, max, now_ms, expires_ms).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

async fn acquire(
    conn: &mut AnyConnection,
    engine: Engine,
    name: &str,
    id: &str,
    max: i64,
    now_ms: i64,
    expires_ms: i64,
) -> Result<bool, StoreError> {
    if engine == Engine::Postgres {
        // Two admissions counting the same name's leases must not both see room for one more:
        // the name is locked until the transaction ends (SQLite: the write lock does this).
        let _: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM stream_leases WHERE name = $1 AND expires_at <= $2")
        .bind(name)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_leases WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    if held >= max {
        return Ok(false);
    }
    sqlx::query("INSERT INTO stream_leases (id, name, expires_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(expires_ms)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// `NotFound` unless the key, user or team `id` exists.
async fn require_scope(
    conn: &mut AnyConnection,
    scope: RateScope,
    id: &str,
) -> Result<(), StoreError> {
    let (sql, what) = match scope {
        RateScope::Key => (
            "SELECT id FROM credentials WHERE id = $1 AND kind = 'key'",
            "key",
        ),
        RateScope::User => ("SELECT id FROM users WHERE id = $1", "user"),
        RateScope::Team => ("SELECT id FROM teams WHERE id = $1", "team"),
    };
    let found: Option<String> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or(StoreError::NotFound { what })
}
