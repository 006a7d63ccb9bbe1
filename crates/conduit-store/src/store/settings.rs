//! Settings managed at run time: the managed-settings policy served to Claude Code (audited;
//! the audit names the top-level keys, never the values, which may hold secrets).

use serde_json::json;

use super::rows::get;
use super::{audit, now_s, Store};
use crate::{Actor, ManagedSettings, StoreError};

/// The `settings` row the managed-settings policy lives in.
const MANAGED: &str = "managed_settings";

impl Store {
    pub async fn managed_settings(&self) -> Result<Option<ManagedSettings>, StoreError> {
        let row = sqlx::query("SELECT value, updated_at FROM settings WHERE name = $1")
            .bind(MANAGED)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let value: String = get(&row, "value")?;
        Ok(Some(ManagedSettings {
            settings: serde_json::from_str(&value).map_err(|e| {
                StoreError::Internal(format!("the managed settings are not JSON: {e}"))
            })?,
            updated_at: get(&row, "updated_at")?,
        }))
    }

    /// Replace the policy, or delete it (`None`). Audited as `managed_settings.set` /
    /// `managed_settings.delete`.
    pub async fn set_managed_settings(
        &self,
        settings: Option<&serde_json::Value>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let (action, detail) = match settings {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                )
                .bind(MANAGED)
                .bind(value.to_string())
                .bind(now_s())
                .execute(&mut *tx)
                .await?;
                let keys: Vec<&String> = value
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                ("managed_settings.set", json!({ "keys": keys }))
            }
            None => {
                let done = sqlx::query("DELETE FROM settings WHERE name = $1")
                    .bind(MANAGED)
                    .execute(&mut *tx)
                    .await?;
                (
                    "managed_settings.delete",
                    json!({ "existed": done.rows_affected() == 1 }),
                )
            }
        };
        audit::write(&mut tx, actor, action, None, &detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
