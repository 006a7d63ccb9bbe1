//! Shared named counters per minute window (`rate_counters`; the `key_id` column holds the
//! name: `rpm:key:<id>`, `tpm:team:<id>`, …), counted with atomic upserts so that every
//! instance sees the same count.

use std::sync::atomic::Ordering;

use sqlx::AnyConnection;

use super::Store;
use crate::StoreError;

/// The length of a window, in seconds.
pub(super) const WINDOW: i64 = 60;
/// Windows older than this many seconds before the current one are deleted.
const KEEP_SECS: i64 = 120;
/// Prune on every this-many-th counting call of a handle (and at its first).
const PRUNE_EVERY: u64 = 256;

impl Store {
    /// Count one hit of `name` in the minute window starting at `window_start` (Unix seconds,
    /// a multiple of 60) and return `(this window's count including this one, the previous
    /// window's count)`. Atomic across instances.
    pub async fn hit_rate(&self, name: &str, window_start: i64) -> Result<(i64, i64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let counts = add(&mut conn, name, window_start, 1).await?;
        drop(conn);
        self.maybe_prune(window_start).await;
        Ok(counts)
    }

    /// Add `n` to `name`'s window starting at `window_start` (tokens, say); the new
    /// `(current, previous)` counts. Atomic across instances.
    pub async fn add_rate(
        &self,
        name: &str,
        window_start: i64,
        n: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let counts = add(&mut conn, name, window_start, n).await?;
        drop(conn);
        self.maybe_prune(window_start).await;
        Ok(counts)
    }

    /// `name`'s `(current, previous)` counts for the window starting at `window_start`,
    /// without counting anything.
    pub async fn rate_counts(
        &self,
        name: &str,
        window_start: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        counts(&mut conn, name, window_start).await
    }

    /// Delete the rate windows that start before `before` (Unix seconds); how many.
    pub async fn prune_rates(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Now and then (and at a handle's first count), delete the windows nobody reads any more.
    async fn maybe_prune(&self, window_start: i64) {
        if self.rate_calls.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == 0 {
            if let Err(e) = self.prune_rates(window_start - KEEP_SECS).await {
                tracing::debug!(error = %e, "pruning old rate windows failed");
            }
        }
    }
}

/// Add `n` to `name`'s window on `conn` (locking its row until the caller's transaction ends);
/// `(current, previous)`.
pub(super) async fn add(
    conn: &mut AnyConnection,
    name: &str,
    window_start: i64,
    n: i64,
) -> Result<(i64, i64), StoreError> {
    let current: i64 = sqlx::query_scalar(
        "INSERT INTO rate_counters (key_id, window_start, count) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_counters.count + $3 \
         RETURNING count",
    )
    .bind(name)
    .bind(window_start)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    Ok((current, previous(conn, name, window_start).await?))
}

/// `name`'s `(current, previous)` counts on `conn`.
pub(super) async fn counts(
    conn: &mut AnyConnection,
    name: &str,
    window_start: i64,
) -> Result<(i64, i64), StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT window_start, count FROM rate_counters \
         WHERE key_id = $1 AND window_start >= $2 AND window_start <= $3",
    )
    .bind(name)
    .bind(window_start - WINDOW)
    .bind(window_start)
    .fetch_all(&mut *conn)
    .await?;
    let of = |w: i64| rows.iter().find(|(s, _)| *s == w).map_or(0, |(_, c)| *c);
    Ok((of(window_start), of(window_start - WINDOW)))
}

async fn previous(
    conn: &mut AnyConnection,
    name: &str,
    window_start: i64,
) -> Result<i64, StoreError> {
    let previous: Option<i64> = sqlx::query_scalar(
        "SELECT count FROM rate_counters WHERE key_id = $1 AND window_start = $2",
    )
    .bind(name)
    .bind(window_start - WINDOW)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(previous.unwrap_or(0))
}
