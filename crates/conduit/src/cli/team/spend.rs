//! `conduit team spend`: who spent what, from `GET /admin/spend`, as a table (US dollars to six
//! decimals, with a total), CSV (`--csv`) or the API's JSON (`--json`).

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::http::Api;
use super::{cell, table};
use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GroupBy {
    User,
    Team,
    Key,
    Model,
    Day,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::User => "user",
            GroupBy::Team => "team",
            GroupBy::Key => "key",
            GroupBy::Model => "model",
            GroupBy::Day => "day",
        }
    }
}

#[derive(Args)]
pub struct SpendArgs {
    /// What to group requests by.
    #[arg(long, value_enum, default_value = "user")]
    group_by: GroupBy,
    /// Start (RFC 3339, or a UTC date YYYY-MM-DD) [default: the start of this UTC month].
    #[arg(long, value_name = "WHEN")]
    from: Option<String>,
    /// End, exclusive (RFC 3339), or a UTC date, included [default: the end of this UTC month].
    #[arg(long, value_name = "WHEN")]
    to: Option<String>,
    /// Print CSV (RFC 4180, a header row) instead of a table (`--json` wins).
    #[arg(long)]
    csv: bool,
}

/// The table's columns: header and the report row's field.
const COLUMNS: [(&str, &str); 9] = [
    ("REQUESTS", "requests"),
    ("INPUT", "input_tokens"),
    ("WRITE 5M", "cache_write_5m_tokens"),
    ("WRITE 1H", "cache_write_1h_tokens"),
    ("READ", "cache_read_tokens"),
    ("OUTPUT", "output_tokens"),
    ("COST USD", "cost_usd"),
    ("UNPRICED", "unpriced_requests"),
    ("ESTIMATED", "estimated_requests"),
];

pub fn run(paths: &Paths, args: SpendArgs, json: bool) -> Outcome {
    let api = Api::from_session(paths)?;
    let report = api.get(&path(&args))?;
    if json {
        output::json(&report);
        return crate::cli::ok();
    }
    let data = report["data"].as_array().cloned().unwrap_or_default();
    if args.csv {
        output::raw(conduit::team::api::spend::csv_text(&data).as_bytes())?;
        return crate::cli::ok();
    }
    line(format!(
        "Spend by {} from {} to {}",
        cell(&report["group_by"]),
        cell(&report["from"]),
        cell(&report["to"])
    ));
    let mut headers = vec![args.group_by.as_str().to_ascii_uppercase()];
    headers.extend(COLUMNS.iter().map(|(h, _)| (*h).to_owned()));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut rows: Vec<Vec<String>> = data.iter().map(row).collect();
    if rows.len() > 1 {
        rows.push(total(&data));
    }
    table::print(&headers, &rows, "No requests in this period.");
    crate::cli::ok()
}

/// `/admin/spend?group_by=…[&from=…][&to=…]`, the values URL-encoded.
fn path(args: &SpendArgs) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("group_by", args.group_by.as_str());
    if let Some(from) = &args.from {
        query.append_pair("from", from);
    }
    if let Some(to) = &args.to {
        query.append_pair("to", to);
    }
    format!("/admin/spend?{}", query.finish())
}

fn row(r: &Value) -> Vec<String> {
    let group = match &r["group"] {
        Value::Null => "(none)".to_owned(),
        other => cell(other),
    };
    let mut cells = vec![group];
    cells.extend(COLUMNS.iter().map(|(_, field)| cell(&r[*field])));
    cells
}

/// The sum of every column (the cost summed exactly, in micro-dollars).
fn total(data: &[Value]) -> Vec<String> {
    let mut cells = vec!["TOTAL".to_owned()];
    for (_, field) in COLUMNS {
        let sum: i64 = if field == "cost_usd" {
            data.iter()
                .filter_map(|r| r[field].as_str().and_then(micros))
                .sum()
        } else {
            data.iter().filter_map(|r| r[field].as_i64()).sum()
        };
        cells.push(if field == "cost_usd" {
            usd(sum)
        } else {
            sum.to_string()
        });
    }
    cells
}

/// `"0.054399"` → 54399 (six decimals, as the API writes them).
fn micros(usd: &str) -> Option<i64> {
    let (whole, frac) = usd.split_once('.')?;
    if frac.len() != 6 {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 1_000_000 + frac.parse::<i64>().ok()?)
}

fn usd(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn totals_sum_exactly() {
        let data = [
            json!({"group": "a", "requests": 2, "input_tokens": 6, "cache_write_5m_tokens": 1,
                   "cache_write_1h_tokens": 0, "cache_read_tokens": 0, "output_tokens": 9,
                   "cost_usd": "0.108798", "unpriced_requests": 0, "estimated_requests": 0}),
            json!({"group": null, "requests": 1, "input_tokens": 3, "cache_write_5m_tokens": 1,
                   "cache_write_1h_tokens": 2, "cache_read_tokens": 4, "output_tokens": 1,
                   "cost_usd": "1.900000", "unpriced_requests": 1, "estimated_requests": 1}),
        ];
        assert_eq!(row(&data[1])[0], "(none)");
        assert_eq!(
            total(&data),
            ["TOTAL", "3", "9", "2", "2", "4", "10", "2.008798", "1", "1"]
        );
        let args = SpendArgs {
            group_by: GroupBy::Day,
            from: Some("2026-12-01T00:00:00+01:00".into()),
            to: None,
            csv: false,
        };
        assert_eq!(
            path(&args),
            "/admin/spend?group_by=day&from=2026-12-01T00%3A00%3A00%2B01%3A00"
        );
    }
}
