//! `GET /admin/spend?group_by=user|team|key|model|day&from=&to=[&format=csv]`: who spent what,
//! from the ledger. `from`/`to` are RFC 3339 instants or `YYYY-MM-DD` UTC dates (`to` as a date
//! includes that day); the default is the current UTC month. JSON, or CSV (RFC 4180, a header
//! row) with `format=csv` or `Accept: text/csv`. Costs are US dollars with six decimals.

use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conduit_spend::jiff::tz::TimeZone;
use conduit_spend::Period;
use conduit_store::{GroupBy, ReportRow};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::caller::Reader;
use super::error::{ApiError, ApiResult};
use super::spend_limits_wire::{query_pairs, single};
use crate::state::TeamState;

/// The CSV columns, in order (the JSON fields of a row, `group_id` included).
const COLUMNS: [&str; 11] = [
    "group",
    "group_id",
    "requests",
    "input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_requests",
    "estimated_requests",
];

/// `GET /admin/spend`.
pub async fn report(
    team: TeamState,
    _: Reader,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let group_by = match single(&pairs, "group_by")? {
        None => GroupBy::User,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::invalid(format!(
                "group_by: {g:?} is not one of user, team, key, model, day"
            ))
        })?,
    };
    let (month_start, month_end) = Period::Monthly.window(team.spend.now(), &TimeZone::UTC);
    let from_ms = match single(&pairs, "from")? {
        None => month_start * 1000,
        Some(v) => instant_ms("from", v, false)?,
    };
    let to_ms = match single(&pairs, "to")? {
        None => month_end.unwrap_or(month_start) * 1000,
        Some(v) => instant_ms("to", v, true)?,
    };
    if from_ms >= to_ms {
        return Err(ApiError::invalid(
            "from must be before to (to is exclusive; a date includes its day)",
        ));
    }
    let csv = match single(&pairs, "format")? {
        None | Some("json") => wants_csv(&headers),
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format: {other:?} is not json or csv"
            )))
        }
    };
    let rows = team
        .store
        .spend_report(group_by, from_ms, to_ms, None)
        .await?;
    let (from, to) = (rfc3339_ms(from_ms), rfc3339_ms(to_ms));
    let data: Vec<Value> = rows.iter().map(row_json).collect();
    if csv {
        let name = format!("spend-by-{}.csv", group_by.as_str());
        return Ok(csv_response(&data, &name));
    }
    Ok(Json(json!({
        "group_by": group_by.as_str(),
        "from": from,
        "to": to,
        "data": data,
    }))
    .into_response())
}

pub(crate) fn row_json(r: &ReportRow) -> Value {
    json!({
        "group": r.group,
        "group_id": r.id,
        "requests": r.requests,
        "input_tokens": r.input,
        "cache_write_5m_tokens": r.cache_write_5m,
        "cache_write_1h_tokens": r.cache_write_1h,
        "cache_read_tokens": r.cache_read,
        "output_tokens": r.output,
        "cost_usd": conduit_spend::usd(r.cost_nanos),
        "unpriced_requests": r.unpriced,
        "estimated_requests": r.estimated,
    })
}

pub(crate) fn csv_response(data: &[Value], filename: &str) -> Response {
    let mut response = (StatusCode::OK, csv_text(data)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// Report rows (the JSON `data`) as CSV: a header row of [`COLUMNS`], CRLF line ends, nulls
/// empty. Also what `conduit team spend --csv` prints.
pub fn csv_text(data: &[Value]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for row in data {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| match &row[*c] {
                Value::Null => String::new(),
                Value::String(s) => csv_field(s),
                other => csv_field(&other.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a quote or a
/// line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `Accept: text/csv` (and not JSON first).
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .find(|v| *v == "text/csv" || *v == "application/json")
        == Some("text/csv")
}

/// An RFC 3339 instant, or a `YYYY-MM-DD` UTC date (its midnight; with `end_of_day`, the next
/// midnight, so the day is included), in Unix milliseconds.
pub(crate) fn instant_ms(name: &str, value: &str, end_of_day: bool) -> Result<i64, ApiError> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let date = Date::parse(value, format_description!("[year]-[month]-[day]")).map_err(|_| {
        ApiError::invalid(format!(
            "{name}: {value:?} is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a date \
             (2026-12-01)"
        ))
    })?;
    let day = if end_of_day {
        date.next_day()
            .ok_or_else(|| ApiError::invalid(format!("{name}: {value:?} is out of range")))?
    } else {
        date
    };
    Ok(day.midnight().assume_utc().unix_timestamp() * 1000)
}

/// Unix milliseconds as RFC 3339 UTC.
fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_fields_quoted_per_rfc_4180() {
        for (raw, want) in [
            ("alice", "alice"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ] {
            assert_eq!(csv_field(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn times_and_dates() {
        assert_eq!(
            instant_ms("from", "2026-12-01", false).unwrap(),
            1_796_083_200_000
        );
        assert_eq!(
            instant_ms("to", "2026-12-01", true).unwrap(),
            1_796_083_200_000 + 86_400_000
        );
        assert_eq!(
            instant_ms("from", "2026-12-01T01:00:00+01:00", false).unwrap(),
            1_796_083_200_000
        );
        assert!(instant_ms("from", "yesterday", false).is_err());
        assert_eq!(rfc3339_ms(1_796_083_200_000), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn accept_header_picks_csv() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_static(v));
            m
        };
        assert!(wants_csv(&h("text/csv")));
        assert!(wants_csv(&h("text/csv;q=0.9, */*")));
        assert!(!wants_csv(&h("application/json, text/csv")));
        assert!(!wants_csv(&HeaderMap::new()));
    }
}
