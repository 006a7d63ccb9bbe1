//! The spend ledger: batched inserts (idempotent by row id) with their running totals in the
//! same transaction, the totals the budget refresher reads, reports grouped by user, team, key,
//! model or UTC day, and retention.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::AssertSqlSafe;

use super::rows::get;
use super::Store;
use crate::{
    DayModel, GroupBy, ReportRow, SpendFilter, SpendRow, SpendTotal, StoreError, TotalDelta,
};

/// Ledger rows per INSERT statement (22 parameters each: 4,400 per statement, well under both
/// engines' limits).
const ROWS_PER_STATEMENT: usize = 200;

/// Totals per upsert statement (4 parameters each).
const TOTALS_PER_STATEMENT: usize = 200;

/// The `spend` columns, in the order they are bound and read.
const SPEND_COLS: [&str; 22] = [
    "id",
    "at_ms",
    "user_id",
    "subject",
    "team_id",
    "key_id",
    "upstream",
    "model",
    "upstream_model",
    "path",
    "status",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "output_tokens",
    "credits_micros",
    "estimated",
    "cost_nanos",
    "priced_by",
];

impl Store {
    /// Write a batch of ledger rows and what it adds to the running totals, in ONE transaction.
    /// Rows go in multi-row INSERTs of [`ROWS_PER_STATEMENT`] with `ON CONFLICT (id) DO
    /// NOTHING`, so a retried batch leaves each row once; totals are upserted (`cost_nanos +=
    /// delta`, deltas for one key merged first, keys in a fixed order so concurrent writers never
    /// deadlock). Returns how many ledger rows were inserted (rows already present are not
    /// counted). The totals are added as given, whether or not their rows were new: never retry a
    /// batch that committed.
    pub async fn insert_spend(
        &self,
        rows: &[SpendRow],
        totals: &[TotalDelta],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() && totals.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                query = query
                    .bind(&r.id)
                    .bind(r.at_ms)
                    .bind(r.user_id.as_deref())
                    .bind(r.subject.as_deref())
                    .bind(r.team_id.as_deref())
                    .bind(r.key_id.as_deref())
                    .bind(r.upstream.as_deref())
                    .bind(&r.model)
                    .bind(r.upstream_model.as_deref())
                    .bind(&r.path)
                    .bind(r.status)
                    .bind(r.latency_ms)
                    .bind(r.ttft_ms)
                    .bind(r.input_tokens)
                    .bind(r.cache_write_5m)
                    .bind(r.cache_write_1h)
                    .bind(r.cache_read)
                    .bind(r.output_tokens)
                    .bind(r.credits_micros)
                    .bind(i64::from(r.estimated))
                    .bind(r.cost_nanos)
                    .bind(r.priced_by.as_deref());
            }
            inserted += query.execute(&mut *tx).await?.rows_affected();
        }
        let merged = merge(totals);
        for chunk in merged.chunks(TOTALS_PER_STATEMENT) {
            let sql = upsert_totals_sql(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for ((scope, period, start), cost) in chunk {
                query = query.bind(*scope).bind(*period).bind(*start).bind(*cost);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Every scope's running total in the given period windows (`(period, period_start)`, e.g.
    /// `("daily", 1796428800)`, `("total", 0)`): what the budget refresher reads.
    pub async fn period_totals(&self, keys: &[(&str, i64)]) -> Result<Vec<SpendTotal>, StoreError> {
        self.totals(&[], keys).await
    }

    /// The running totals of these scopes (`user:<id>`, …) in the given period windows.
    pub async fn scope_totals(
        &self,
        scopes: &[String],
        keys: &[(&str, i64)],
    ) -> Result<Vec<SpendTotal>, StoreError> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        self.totals(scopes, keys).await
    }

    /// `scopes` empty: every scope.
    async fn totals(
        &self,
        scopes: &[String],
        keys: &[(&str, i64)],
    ) -> Result<Vec<SpendTotal>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let windows: Vec<String> = keys
            .iter()
            .map(|_| format!("(period = {} AND period_start = {})", next(), next()))
            .collect();
        let mut sql = format!(
            "SELECT scope, period, period_start, cost_nanos FROM spend_totals WHERE ({})",
            windows.join(" OR ")
        );
        if !scopes.is_empty() {
            let list: Vec<String> = scopes.iter().map(|_| next()).collect();
            sql.push_str(&format!(" AND scope IN ({})", list.join(", ")));
        }
        sql.push_str(" ORDER BY scope, period, period_start");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (period, start) in keys {
            query = query.bind(*period).bind(*start);
        }
        for scope in scopes {
            query = query.bind(scope);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(SpendTotal {
                    scope: get(row, "scope")?,
                    period: get(row, "period")?,
                    period_start: get(row, "period_start")?,
                    cost_nanos: get(row, "cost_nanos")?,
                })
            })
            .collect()
    }

    /// Requests that started in `[from_ms, to_ms)`, grouped, optionally of one user only.
    /// User groups are labelled with the subject, team groups with the team's name where the team
    /// still exists, day groups with the UTC date. Days in order; other groups by cost, highest
    /// first.
    pub async fn spend_report(
        &self,
        group_by: GroupBy,
        from_ms: i64,
        to_ms: i64,
        user_id: Option<&str>,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let filter = SpendFilter {
            user_id: user_id.map(str::to_owned),
            ..SpendFilter::default()
        };
        self.spend_report_filtered(group_by, from_ms, to_ms, &filter)
            .await
    }

    /// [`Store::spend_report`] over the requests that match every filter given.
    pub async fn spend_report_filtered(
        &self,
        group_by: GroupBy,
        from_ms: i64,
        to_ms: i64,
        filter: &SpendFilter,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let (key, label) = match group_by {
            GroupBy::User => ("s.user_id", "MAX(s.subject)"),
            GroupBy::Team => ("s.team_id", "MAX(t.name)"),
            GroupBy::Key => ("s.key_id", "MAX(s.key_id)"),
            GroupBy::Model => ("s.model", "MAX(s.model)"),
            GroupBy::Day => (DAY, "MIN(s.at_ms)"),
        };
        let join = match group_by {
            GroupBy::Team => " LEFT JOIN teams t ON t.id = s.team_id",
            _ => "",
        };
        let (filter_sql, values) = where_filter(filter);
        let sql = format!(
            "SELECT {key} AS gid, {label} AS label, COUNT(*) AS requests, \
             {input} AS input, {w5} AS w5, {w1} AS w1, {read} AS cache_read, {out} AS output, \
             {cost} AS cost_nanos, \
             CAST(SUM(CASE WHEN s.cost_nanos IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unpriced, \
             {est} AS estimated \
             FROM spend s{join} WHERE s.at_ms >= $1 AND s.at_ms < $2{filter_sql} GROUP BY {key}",
            input = sum("s.input_tokens"),
            w5 = sum("s.cache_write_5m"),
            w1 = sum("s.cache_write_1h"),
            read = sum("s.cache_read"),
            out = sum("s.output_tokens"),
            cost = sum("s.cost_nanos"),
            est = sum("s.estimated"),
        );
        let rows = windowed(sql, from_ms, to_ms, values)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|row| report_row(row, group_by))
            .collect::<Result<Vec<_>, _>>()?;
        match group_by {
            GroupBy::Day => out.sort_by(|a, b| a.group.cmp(&b.group)),
            _ => out.sort_by(|a, b| {
                b.cost_nanos
                    .cmp(&a.cost_nanos)
                    .then(b.requests.cmp(&a.requests))
                    .then(a.group.cmp(&b.group))
            }),
        }
        Ok(out)
    }

    /// Requests that started in `[from_ms, to_ms)` and match the filter, per UTC day and model
    /// (the stacked daily chart): days in order, within a day by cost, highest first.
    pub async fn spend_by_day_model(
        &self,
        from_ms: i64,
        to_ms: i64,
        filter: &SpendFilter,
    ) -> Result<Vec<DayModel>, StoreError> {
        let (filter_sql, values) = where_filter(filter);
        let sql = format!(
            "SELECT {DAY} AS gid, s.model AS model, COUNT(*) AS requests, {cost} AS cost_nanos \
             FROM spend s WHERE s.at_ms >= $1 AND s.at_ms < $2{filter_sql} \
             GROUP BY {DAY}, s.model",
            cost = sum("s.cost_nanos"),
        );
        let rows = windowed(sql, from_ms, to_ms, values)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(DayModel {
                    day: utc_date(get(row, "gid")?),
                    model: get(row, "model")?,
                    requests: get(row, "requests")?,
                    cost_nanos: get(row, "cost_nanos")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // `YYYY-MM-DD` sorts as the days do.
        out.sort_by(|a, b| {
            a.day
                .cmp(&b.day)
                .then(b.cost_nanos.cmp(&a.cost_nanos))
                .then(a.model.cmp(&b.model))
        });
        Ok(out)
    }

    /// Ledger rows that started in `[from_ms, to_ms)`, oldest first, at most `limit`; one user's
    /// only when given.
    pub async fn spend_rows(
        &self,
        user_id: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let filter = SpendFilter {
            user_id: user_id.map(str::to_owned),
            ..SpendFilter::default()
        };
        let (filter_sql, values) = where_filter(&filter);
        let sql = format!(
            "SELECT {cols} FROM spend s WHERE s.at_ms >= $1 AND s.at_ms < $2{filter_sql} \
             ORDER BY s.at_ms, s.id LIMIT ${n}",
            cols = SPEND_COLS.join(", "),
            n = values.len() + 3,
        );
        let rows = windowed(sql, from_ms, to_ms, values)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(spend_row).collect()
    }

    /// Retention: delete ledger rows that started before `before_ms`, and the running totals of
    /// windows that started before `before_ms` (`total` is kept). How many ledger rows.
    pub async fn prune_spend(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM spend WHERE at_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM spend_totals WHERE period <> 'total' AND period_start < $1")
            .bind(before_ms.div_euclid(1000))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// `INSERT INTO spend (…) VALUES (…), … ON CONFLICT (id) DO NOTHING` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let width = SPEND_COLS.len();
    let mut sql = format!("INSERT INTO spend ({}) VALUES ", SPEND_COLS.join(", "));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (id) DO NOTHING");
    sql
}

/// The running-total upsert for `n` (scope, period, period_start, delta) tuples.
fn upsert_totals_sql(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|i| {
            let b = i * 4;
            format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
        })
        .collect();
    format!(
        "INSERT INTO spend_totals (scope, period, period_start, cost_nanos) VALUES {} \
         ON CONFLICT (scope, period, period_start) \
         DO UPDATE SET cost_nanos = spend_totals.cost_nanos + excluded.cost_nanos",
        values.join(", ")
    )
}

type TotalKey<'a> = (&'a str, &'a str, i64);

/// One delta per key (a statement may not upsert one row twice on Postgres), in key order; zero
/// deltas dropped.
fn merge(totals: &[TotalDelta]) -> Vec<(TotalKey<'_>, i64)> {
    let mut merged: BTreeMap<TotalKey<'_>, i64> = BTreeMap::new();
    for t in totals {
        let key = (t.scope.as_str(), t.period.as_str(), t.period_start);
        let sum = merged.entry(key).or_insert(0);
        *sum = sum.saturating_add(t.cost_nanos);
    }
    merged.into_iter().filter(|(_, cost)| *cost != 0).collect()
}

/// The UTC day number of a request's start (days since 1970-01-01; ledger times are after it).
const DAY: &str = "s.at_ms / 86400000";

/// The filter's conditions (` AND s.col = $3 …`, numbered after the window's `$1` and `$2`) and
/// the values to bind to them, in order.
fn where_filter(filter: &SpendFilter) -> (String, Vec<&str>) {
    let conditions = [
        ("s.user_id", &filter.user_id),
        ("s.team_id", &filter.team_id),
        ("s.model", &filter.model),
    ];
    let mut sql = String::new();
    let mut values = Vec::new();
    for (column, value) in conditions {
        if let Some(value) = value {
            values.push(value.as_str());
            sql.push_str(&format!(" AND {column} = ${}", values.len() + 2));
        }
    }
    (sql, values)
}

/// `sql` with the window bound to `$1` and `$2` and the filter's values (from [`where_filter`])
/// after them.
fn windowed<'q>(
    sql: String,
    from_ms: i64,
    to_ms: i64,
    values: Vec<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let window = sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(to_ms);
    values
        .into_iter()
        .fold(window, |query, value| query.bind(value))
}

/// `SUM(col)` as a BIGINT (Postgres sums BIGINT as NUMERIC), 0 over no value.
fn sum(col: &str) -> String {
    format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)")
}

fn report_row(row: &AnyRow, group_by: GroupBy) -> Result<ReportRow, StoreError> {
    let (group, id) = match group_by {
        GroupBy::Day => (Some(utc_date(get::<i64>(row, "gid")?)), None),
        GroupBy::User | GroupBy::Team => {
            let id: Option<String> = get(row, "gid")?;
            let label: Option<String> = get(row, "label")?;
            (label.or_else(|| id.clone()), id)
        }
        GroupBy::Key => {
            let id: Option<String> = get(row, "gid")?;
            (id.clone(), id)
        }
        GroupBy::Model => (get(row, "gid")?, None),
    };
    Ok(ReportRow {
        group,
        id,
        requests: get(row, "requests")?,
        input: get(row, "input")?,
        cache_write_5m: get(row, "w5")?,
        cache_write_1h: get(row, "w1")?,
        cache_read: get(row, "cache_read")?,
        output: get(row, "output")?,
        cost_nanos: get(row, "cost_nanos")?,
        unpriced: get(row, "unpriced")?,
        estimated: get(row, "estimated")?,
    })
}

fn spend_row(row: &AnyRow) -> Result<SpendRow, StoreError> {
    Ok(SpendRow {
        id: get(row, "id")?,
        at_ms: get(row, "at_ms")?,
        user_id: get(row, "user_id")?,
        subject: get(row, "subject")?,
        team_id: get(row, "team_id")?,
        key_id: get(row, "key_id")?,
        upstream: get(row, "upstream")?,
        model: get(row, "model")?,
        upstream_model: get(row, "upstream_model")?,
        path: get(row, "path")?,
        status: get(row, "status")?,
        latency_ms: get(row, "latency_ms")?,
        ttft_ms: get(row, "ttft_ms")?,
        input_tokens: get(row, "input_tokens")?,
        cache_write_5m: get(row, "cache_write_5m")?,
        cache_write_1h: get(row, "cache_write_1h")?,
        cache_read: get(row, "cache_read")?,
        output_tokens: get(row, "output_tokens")?,
        credits_micros: get(row, "credits_micros")?,
        estimated: get::<i64>(row, "estimated")? != 0,
        cost_nanos: get(row, "cost_nanos")?,
        priced_by: get(row, "priced_by")?,
    })
}

/// Day `days` since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`).
pub(crate) fn utc_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        for (days, date) in [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (59, "1970-03-01"),
            (11_016, "2000-02-29"),
            (20_793, "2026-12-06"),
        ] {
            assert_eq!(utc_date(days), date, "day {days}");
        }
    }

    #[test]
    fn insert_sql_numbers_every_parameter() {
        let sql = insert_sql(2);
        assert!(sql.contains("($1, $2,"), "{sql}");
        assert!(sql.contains("$22), ($23,"), "{sql}");
        assert!(sql.ends_with("$44) ON CONFLICT (id) DO NOTHING"), "{sql}");
        let totals = upsert_totals_sql(2);
        assert!(
            totals.contains("VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT"),
            "{totals}"
        );
    }

    #[test]
    fn filters_are_numbered_parameters() {
        let f = |user: Option<&str>, team: Option<&str>, model: Option<&str>| SpendFilter {
            user_id: user.map(str::to_owned),
            team_id: team.map(str::to_owned),
            model: model.map(str::to_owned),
        };
        let cases = [
            (f(None, None, None), "", vec![]),
            (f(Some("u"), None, None), " AND s.user_id = $3", vec!["u"]),
            (
                f(None, Some("t'--"), Some("m")),
                " AND s.team_id = $3 AND s.model = $4",
                vec!["t'--", "m"],
            ),
            (
                f(Some("u"), Some("t"), Some("m")),
                " AND s.user_id = $3 AND s.team_id = $4 AND s.model = $5",
                vec!["u", "t", "m"],
            ),
        ];
        for (filter, sql, values) in cases {
            assert_eq!(
                where_filter(&filter),
                (sql.to_owned(), values),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn deltas_merge_per_key() {
        let d = |scope: &str, cost| TotalDelta {
            scope: scope.into(),
            period: "daily".into(),
            period_start: 10,
            cost_nanos: cost,
        };
        let deltas = [
            d("user:b", 5),
            d("user:a", 1),
            d("user:b", 7),
            d("gateway", 0),
        ];
        let merged = merge(&deltas);
        assert_eq!(
            merged,
            vec![(("user:a", "daily", 10), 1), (("user:b", "daily", 10), 12)]
        );
    }
}
