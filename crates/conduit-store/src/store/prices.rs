//! Admin price overrides per upstream and model prefix (micro-dollars per million tokens): list,
//! upsert and delete, each write audited with the row before and after.

use serde_json::{json, Value};
use sqlx::any::AnyRow;

use super::rows::{self, get};
use super::{audit, now_s, Store};
use crate::{Actor, PriceOverride, StoreError};

/// The `price_overrides` columns [`price_row`] reads.
macro_rules! price_cols {
    () => {
        "upstream, model, input, output, cache_read, write_5m, write_1h, updated_at"
    };
}

impl Store {
    /// Every override, by upstream then model.
    pub async fn list_price_overrides(&self) -> Result<Vec<PriceOverride>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            price_cols!(),
            " FROM price_overrides ORDER BY upstream, model"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, price_row)
    }

    /// Create or replace the override for (`upstream`, `model`) (its `updated_at` is set here);
    /// the row and whether it was created. Audited as `price.upsert` with `{before, after}`.
    pub async fn upsert_price_override(
        &self,
        price: &PriceOverride,
        actor: &Actor,
    ) -> Result<(PriceOverride, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(concat!(
            "SELECT ",
            price_cols!(),
            " FROM price_overrides WHERE upstream = $1 AND model = $2"
        ))
        .bind(&price.upstream)
        .bind(&price.model)
        .fetch_optional(&mut *tx)
        .await?;
        let before = before.as_ref().map(price_row).transpose()?;
        let row = sqlx::query(concat!(
            "INSERT INTO price_overrides (upstream, model, input, output, cache_read, write_5m, \
             write_1h, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (upstream, model) DO UPDATE SET input = excluded.input, \
             output = excluded.output, cache_read = excluded.cache_read, \
             write_5m = excluded.write_5m, write_1h = excluded.write_1h, \
             updated_at = excluded.updated_at RETURNING ",
            price_cols!()
        ))
        .bind(&price.upstream)
        .bind(&price.model)
        .bind(price.input)
        .bind(price.output)
        .bind(price.cache_read)
        .bind(price.write_5m)
        .bind(price.write_1h)
        .bind(now_s())
        .fetch_one(&mut *tx)
        .await?;
        let after = price_row(&row)?;
        let detail =
            json!({ "before": before.as_ref().map(price_json), "after": price_json(&after) });
        let target = format!("{}/{}", after.upstream, after.model);
        audit::write(&mut tx, actor, "price.upsert", Some(&target), &detail).await?;
        tx.commit().await?;
        Ok((after, before.is_none()))
    }

    /// Delete the override for (`upstream`, `model`); the row it was.
    /// `NotFound{what:"price override"}` when there is none. Audited as `price.delete`.
    pub async fn delete_price_override(
        &self,
        upstream: &str,
        model: &str,
        actor: &Actor,
    ) -> Result<PriceOverride, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "DELETE FROM price_overrides WHERE upstream = $1 AND model = $2 RETURNING ",
            price_cols!()
        ))
        .bind(upstream)
        .bind(model)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: "price override",
            });
        };
        let before = price_row(&row)?;
        let detail = json!({ "before": price_json(&before), "after": Value::Null });
        let target = format!("{upstream}/{model}");
        audit::write(&mut tx, actor, "price.delete", Some(&target), &detail).await?;
        tx.commit().await?;
        Ok(before)
    }
}

fn price_json(p: &PriceOverride) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

fn price_row(row: &AnyRow) -> Result<PriceOverride, StoreError> {
    Ok(PriceOverride {
        upstream: get(row, "upstream")?,
        model: get(row, "model")?,
        input: get(row, "input")?,
        output: get(row, "output")?,
        cache_read: get(row, "cache_read")?,
        write_5m: get(row, "write_5m")?,
        write_1h: get(row, "write_1h")?,
        updated_at: get(row, "updated_at")?,
    })
}
