//! Housekeeping: the single sign-on rows that have expired are deleted now and then.

use super::Store;
use crate::StoreError;

impl Store {
    /// Delete what has expired at `now`: browser flows, device codes, command-line sign-ins,
    /// and ended refresh-token families with their tokens. How many rows.
    pub async fn prune_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut total = 0;
        for sql in [
            "DELETE FROM auth_flows WHERE expires_at <= $1",
            "DELETE FROM device_codes WHERE expires_at <= $1",
            "DELETE FROM cli_sessions WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE family_id IN \
             (SELECT id FROM refresh_families WHERE ends_at <= $1)",
            "DELETE FROM refresh_families WHERE ends_at <= $1",
        ] {
            let done = sqlx::query(sql).bind(now).execute(&mut *tx).await?;
            total += done.rows_affected();
        }
        tx.commit().await?;
        Ok(total)
    }
}
