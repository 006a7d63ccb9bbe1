//! RFC 8628 device authorizations: created with the digests of both codes, decided once by a
//! signed-in person, and polled by the device until consumed — the consuming poll stores the
//! first refresh token of a new family in the same transaction, so that it issues exactly once.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::rows::{get, text};
use super::{audit, new_id, now_s, refresh, users, Store};
use crate::error::on_write;
use crate::{Actor, DeviceCode, DevicePoll, DeviceStatus, StoreError};

/// The `device_codes` columns [`device`] reads.
macro_rules! device_cols {
    () => {
        "id, status, user_id, created_at, expires_at, poll_interval, last_poll_at"
    };
}

impl Store {
    /// A pending authorization. `Conflict` when either digest is taken.
    pub async fn create_device_code(
        &self,
        device_digest: &str,
        user_code_digest: &str,
        expires_at: i64,
        interval: i64,
    ) -> Result<DeviceCode, StoreError> {
        let code = DeviceCode {
            id: new_id(),
            status: DeviceStatus::Pending,
            user_id: None,
            created_at: now_s(),
            expires_at,
            interval,
            last_poll_at: None,
        };
        sqlx::query(
            "INSERT INTO device_codes (id, device_digest, user_code_digest, status, created_at, \
             expires_at, poll_interval) VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
        )
        .bind(&code.id)
        .bind(device_digest)
        .bind(user_code_digest)
        .bind(code.created_at)
        .bind(expires_at)
        .bind(interval)
        .execute(&self.pool)
        .await
        .map_err(|e| on_write(e, "a device code with this digest exists", "device code"))?;
        Ok(code)
    }

    /// The authorization a user code names, whatever its status and expiry (the caller checks).
    pub async fn device_by_user_code(
        &self,
        user_code_digest: &str,
    ) -> Result<Option<DeviceCode>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM device_codes WHERE user_code_digest = $1"
        ))
        .bind(user_code_digest)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(device).transpose()
    }

    /// Approve for `approve_user_id`, or deny (`None`): only a pending, unexpired authorization,
    /// once (`false` otherwise, nothing written). Audited as `device.approve` / `device.deny`.
    pub async fn decide_device_code(
        &self,
        id: &str,
        approve_user_id: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let (status, action) = match approve_user_id {
            Some(_) => (DeviceStatus::Approved, "device.approve"),
            None => (DeviceStatus::Denied, "device.deny"),
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE device_codes SET status = $1, user_id = $2 \
             WHERE id = $3 AND status = 'pending' AND expires_at > $4",
        )
        .bind(status.as_str())
        .bind(approve_user_id)
        .bind(id)
        .bind(now_s())
        .execute(&mut *tx)
        .await
        .map_err(|e| on_write(e, "conflicting device decision", "user"))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let detail = json!({ "user_id": approve_user_id });
        audit::write(&mut tx, actor, action, Some(id), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// One token-endpoint poll (see [`DevicePoll`]), in one transaction; an approval whose user
    /// has been deactivated since is consumed as `Denied`. The first statement is
    /// the conditional consume (approved, unexpired, not too soon): on Postgres a racing poll
    /// waits for it and then matches nothing; on SQLite it takes the write lock first.
    pub async fn poll_device_code(
        &self,
        device_digest: &str,
        refresh_digest: &str,
        refresh_family_ends_at: i64,
        now: i64,
    ) -> Result<DevicePoll, StoreError> {
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query(
            "UPDATE device_codes SET status = 'consumed', last_poll_at = $1 \
             WHERE device_digest = $2 AND status = 'approved' AND expires_at > $1 \
             AND (last_poll_at IS NULL OR last_poll_at + poll_interval <= $1) \
             RETURNING user_id",
        )
        .bind(now)
        .bind(device_digest)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = consumed {
            let user_id: Option<String> = get(&row, "user_id")?;
            let user_id = user_id.ok_or_else(|| {
                StoreError::Internal("an approved device code has no user".into())
            })?;
            if !users::active(&mut tx, &user_id).await? {
                // Deactivated since approving: used up, and no tokens.
                tx.commit().await?;
                return Ok(DevicePoll::Denied);
            }
            let family_id = refresh::start_family(
                &mut tx,
                &user_id,
                refresh_digest,
                refresh_family_ends_at,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(DevicePoll::Issued { user_id, family_id });
        }
        let poll = not_consumed(&mut tx, device_digest, now).await?;
        tx.commit().await?;
        Ok(poll)
    }
}

/// The poll's answer when the consume matched nothing; records the poll time unless expired.
async fn not_consumed(
    conn: &mut AnyConnection,
    device_digest: &str,
    now: i64,
) -> Result<DevicePoll, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        device_cols!(),
        " FROM device_codes WHERE device_digest = $1"
    ))
    .bind(device_digest)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(code) = row.as_ref().map(device).transpose()? else {
        return Ok(DevicePoll::Expired);
    };
    if code.status == DeviceStatus::Consumed || now >= code.expires_at {
        return Ok(DevicePoll::Expired);
    }
    sqlx::query("UPDATE device_codes SET last_poll_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&code.id)
        .execute(&mut *conn)
        .await?;
    if code
        .last_poll_at
        .is_some_and(|last| last.saturating_add(code.interval) > now)
    {
        return Ok(DevicePoll::SlowDown);
    }
    Ok(match code.status {
        DeviceStatus::Pending => DevicePoll::Pending,
        DeviceStatus::Denied => DevicePoll::Denied,
        // Approved but not consumable: taken by a racing poll meanwhile.
        DeviceStatus::Approved | DeviceStatus::Consumed => DevicePoll::Expired,
    })
}

fn device(row: &AnyRow) -> Result<DeviceCode, StoreError> {
    Ok(DeviceCode {
        id: get(row, "id")?,
        status: text(row, "status", DeviceStatus::parse)?,
        user_id: get(row, "user_id")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        interval: get(row, "poll_interval")?,
        last_poll_at: get(row, "last_poll_at")?,
    })
}
