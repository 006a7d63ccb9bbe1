//! Shared per-key rate counters: one row per key and minute window, counted with an atomic
//! upsert so that every instance sees the same count.

use std::sync::atomic::Ordering;

use super::Store;
use crate::StoreError;

/// Windows older than this many seconds before the current one are deleted.
const KEEP_SECS: i64 = 120;
/// Prune on every this-many-th `hit_rate` call of a handle (and at its first).
const PRUNE_EVERY: u64 = 256;

impl Store {
    /// Count one request of `key_id` in the minute window starting at `window_start` (Unix
    /// seconds, a multiple of 60) and return `(this window's count including this one, the
    /// previous window's count)`. Atomic across instances.
    pub async fn hit_rate(
        &self,
        key_id: &str,
        window_start: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let current: i64 = sqlx::query_scalar(
            "INSERT INTO rate_counters (key_id, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        )
        .bind(key_id)
        .bind(window_start)
        .fetch_one(&mut *conn)
        .await?;
        let previous: Option<i64> = sqlx::query_scalar(
            "SELECT count FROM rate_counters WHERE key_id = $1 AND window_start = $2",
        )
        .bind(key_id)
        .bind(window_start - 60)
        .fetch_optional(&mut *conn)
        .await?;
        drop(conn);
        if self.rate_calls.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == 0 {
            if let Err(e) = self.prune_rates(window_start - KEEP_SECS).await {
                tracing::debug!(error = %e, "pruning old rate windows failed");
            }
        }
        Ok((current, previous.unwrap_or(0)))
    }

    /// Delete the rate windows that start before `before` (Unix seconds); how many.
    pub async fn prune_rates(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
