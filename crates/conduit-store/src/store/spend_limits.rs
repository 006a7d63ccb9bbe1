//! Spend limits (`spl_…`): upsert keyed on (scope, period), look up, list in pages, delete, each
//! write audited with the row before and after; the audit of those writes; and the budget
//! notices claimed once across instances.

use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::AssertSqlSafe;

use super::rows::{self, audit_cols, get, text};
use super::{audit, now_ms, now_s, Store};
use crate::{
    Actor, AuditEntry, LimitList, LimitPage, NewSpendLimit, SpendLimit, SpendPeriod, SpendScope,
    StoreError,
};

/// The `spend_limits` columns [`limit_row`] reads.
macro_rules! limit_cols {
    () => {
        "id, scope_type, scope_id, period, amount_cents, currency, is_enabled, created_at, \
         updated_at"
    };
}

/// The most limits (or audit entries) one page holds.
pub const LIMIT_PAGE_MAX: i64 = 1000;

/// The audit actions of spend-limit writes.
const LIMIT_ACTIONS: [&str; 2] = ["spend_limit.upsert", "spend_limit.delete"];

impl Store {
    /// Create the limit for (scope, period), or replace its amount, currency and switch. Returns
    /// the row and whether it was created. Audited as `spend_limit.upsert` with `{before,
    /// after}` (before `null` when created).
    pub async fn upsert_spend_limit(
        &self,
        new: &NewSpendLimit,
        actor: &Actor,
    ) -> Result<(SpendLimit, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(concat!(
            "SELECT ",
            limit_cols!(),
            " FROM spend_limits WHERE scope_type = $1 AND scope_id = $2 AND period = $3"
        ))
        .bind(new.scope_type.as_str())
        .bind(&new.scope_id)
        .bind(new.period.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let before = before.as_ref().map(limit_row).transpose()?;
        let id = new_limit_id();
        let now = now_s();
        let row = sqlx::query(concat!(
            "INSERT INTO spend_limits (id, scope_type, scope_id, period, amount_cents, currency, \
             is_enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (scope_type, scope_id, period) DO UPDATE SET \
             amount_cents = excluded.amount_cents, currency = excluded.currency, \
             is_enabled = excluded.is_enabled, updated_at = excluded.updated_at RETURNING ",
            limit_cols!()
        ))
        .bind(&id)
        .bind(new.scope_type.as_str())
        .bind(&new.scope_id)
        .bind(new.period.as_str())
        .bind(new.amount_cents)
        .bind(&new.currency)
        .bind(i64::from(new.is_enabled))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let after = limit_row(&row)?;
        let created = after.id == id;
        let detail = json!({
            "before": before.as_ref().map(limit_json),
            "after": limit_json(&after),
        });
        audit::write(
            &mut tx,
            actor,
            "spend_limit.upsert",
            Some(&after.id),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok((after, created))
    }

    pub async fn spend_limit(&self, id: &str) -> Result<Option<SpendLimit>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            limit_cols!(),
            " FROM spend_limits WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(limit_row).transpose()
    }

    /// Every spend limit (what budgets are computed from), oldest first.
    pub async fn all_spend_limits(&self) -> Result<Vec<SpendLimit>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            limit_cols!(),
            " FROM spend_limits ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, limit_row)
    }

    /// One page of spend limits, newest first (ids are time-ordered): `after_id` pages towards
    /// older ones, `before_id` towards newer ones; `has_more` says whether the direction paged
    /// holds more. `limit` is capped at [`LIMIT_PAGE_MAX`].
    pub async fn list_spend_limits(&self, page: &LimitPage) -> Result<LimitList, StoreError> {
        let limit = page.limit.clamp(1, LIMIT_PAGE_MAX);
        let mut filters = Vec::new();
        let mut binds: Vec<&str> = Vec::new();
        if let Some(scope) = page.scope_type {
            binds.push(scope.as_str());
            filters.push(format!("scope_type = ${}", binds.len()));
        }
        if let Some(after) = &page.after_id {
            binds.push(after);
            filters.push(format!("id < ${}", binds.len()));
        }
        // Towards newer rows: the nearest first, reversed below.
        let newer = page.before_id.is_some() && page.after_id.is_none();
        if let Some(before) = &page.before_id {
            binds.push(before);
            filters.push(format!("id > ${}", binds.len()));
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let order = if newer { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {} FROM spend_limits{filter} ORDER BY id {order} LIMIT ${}",
            limit_cols!(),
            binds.len() + 1
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(*b);
        }
        let rows = query.bind(limit + 1).fetch_all(&self.pool).await?;
        let mut data = rows::all(&rows, limit_row)?;
        let has_more = data.len() as i64 > limit;
        data.truncate(limit as usize);
        if newer {
            data.reverse();
        }
        Ok(LimitList { data, has_more })
    }

    /// Delete a limit; the row it was. `NotFound{what:"spend limit"}` for an unknown id.
    /// Audited as `spend_limit.delete` with `{before, after: null}`.
    pub async fn delete_spend_limit(
        &self,
        id: &str,
        actor: &Actor,
    ) -> Result<SpendLimit, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "DELETE FROM spend_limits WHERE id = $1 RETURNING ",
            limit_cols!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: "spend limit",
            });
        };
        let before = limit_row(&row)?;
        sqlx::query("DELETE FROM budget_notices WHERE limit_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let detail = json!({ "before": limit_json(&before), "after": Value::Null });
        audit::write(&mut tx, actor, "spend_limit.delete", Some(id), &detail).await?;
        tx.commit().await?;
        Ok(before)
    }

    /// The audit of spend-limit writes, newest first, at most `limit` (capped at
    /// [`LIMIT_PAGE_MAX`]), older than the entry `after_id` when given
    /// (`NotFound{what:"audit entry"}` for an unknown one); and whether older ones remain.
    pub async fn spend_limit_audit(
        &self,
        limit: i64,
        after_id: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, bool), StoreError> {
        let limit = limit.clamp(1, LIMIT_PAGE_MAX);
        let mut conn = self.pool.acquire().await?;
        let rows = match after_id {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit WHERE action IN ($1, $2) ORDER BY at_ms DESC, id DESC LIMIT $3"
                ))
                .bind(LIMIT_ACTIONS[0])
                .bind(LIMIT_ACTIONS[1])
                .bind(limit + 1)
                .fetch_all(&mut *conn)
                .await?
            }
            Some(after) => {
                let at: Option<i64> = sqlx::query_scalar(
                    "SELECT at_ms FROM audit WHERE id = $1 AND action IN ($2, $3)",
                )
                .bind(after)
                .bind(LIMIT_ACTIONS[0])
                .bind(LIMIT_ACTIONS[1])
                .fetch_optional(&mut *conn)
                .await?;
                let at = at.ok_or(StoreError::NotFound {
                    what: "audit entry",
                })?;
                sqlx::query(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit WHERE action IN ($1, $2) \
                     AND (at_ms < $3 OR (at_ms = $3 AND id < $4)) \
                     ORDER BY at_ms DESC, id DESC LIMIT $5"
                ))
                .bind(LIMIT_ACTIONS[0])
                .bind(LIMIT_ACTIONS[1])
                .bind(at)
                .bind(after)
                .bind(limit + 1)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        let mut entries = rows::all(&rows, rows::audit)?;
        let has_more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        Ok((entries, has_more))
    }

    /// Claim the notice for a limit's `threshold` percent in the window starting at
    /// `period_start`: true for the one call (across instances) whose insert wrote the row, which
    /// then sends the notice.
    pub async fn claim_notice(
        &self,
        limit_id: &str,
        period_start: i64,
        threshold: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO budget_notices (limit_id, period_start, threshold, at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (limit_id, period_start, threshold) DO NOTHING",
        )
        .bind(limit_id)
        .bind(period_start)
        .bind(threshold)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A new limit id: `spl_` and a UUID v7 in hex (time-ordered, so ids sort by creation).
fn new_limit_id() -> String {
    format!("spl_{}", uuid::Uuid::now_v7().simple())
}

/// A limit as the audit keeps it (the model's serde names; `SpendLimit` reads it back).
fn limit_json(l: &SpendLimit) -> Value {
    serde_json::to_value(l).unwrap_or(Value::Null)
}

fn limit_row(row: &AnyRow) -> Result<SpendLimit, StoreError> {
    Ok(SpendLimit {
        id: get(row, "id")?,
        scope_type: text(row, "scope_type", SpendScope::parse)?,
        scope_id: get(row, "scope_id")?,
        period: text(row, "period", SpendPeriod::parse)?,
        amount_cents: get(row, "amount_cents")?,
        currency: get(row, "currency")?,
        is_enabled: get::<i64>(row, "is_enabled")? != 0,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}
