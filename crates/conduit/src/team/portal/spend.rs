//! `/portal/spend`: the ledger, filtered (dates, user, team, model), drawn on the server as
//! SVG (daily cost stacked by model; top users and top teams for admins and auditors), with
//! the tables under the charts and a CSV download of the same selection. A member sees their
//! own requests only, whatever the query says.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::RawQuery;
use axum::response::Response;
use conduit_spend::jiff::tz::TimeZone;
use conduit_spend::Period;
use conduit_store::{GroupBy, ReportRow, SpendFilter};
use maud::{html, Markup};
use std::collections::HashMap;

use super::chart::{hbars, stacked_bars, Series};
use super::layout::{page, usd};
use super::view::{field, params, Failure, Viewer};
use crate::team::api::spend::{csv_response, instant_ms, row_json};

/// Rows in the top-N charts and tables.
const TOP: usize = 10;
/// Past this many days, the chart shows only days with spend.
const MAX_DAYS: i64 = 92;

/// What a request to the page or the CSV selects.
struct Selection {
    from_ms: i64,
    to_ms: i64,
    filter: SpendFilter,
    /// The query as typed, for the form and the CSV link.
    query: HashMap<String, String>,
}

async fn select(v: &Viewer, raw: Option<&str>) -> Result<Selection, Failure> {
    let team = &v.ctx.team;
    let query = params(raw);
    let (month_start, month_end) = Period::Monthly.window(team.spend.now(), &TimeZone::UTC);
    let from_ms = match field(&query, "from") {
        None => month_start * 1000,
        Some(d) => instant_ms("From", d, false)?,
    };
    let to_ms = match field(&query, "to") {
        None => month_end.unwrap_or(month_start) * 1000,
        Some(d) => instant_ms("To", d, true)?,
    };
    if from_ms >= to_ms {
        return Err(Failure::new(
            axum::http::StatusCode::BAD_REQUEST,
            "From must be before To.",
        ));
    }
    let mut filter = SpendFilter {
        model: field(&query, "model").map(str::to_owned),
        ..SpendFilter::default()
    };
    if v.reader() {
        if let Some(subject) = field(&query, "user") {
            // An unknown name selects nothing rather than everything.
            filter.user_id = Some(match team.store.user_by_subject(subject).await? {
                Some(u) => u.id,
                None => format!("unknown:{subject}"),
            });
        }
        if let Some(name) = field(&query, "team") {
            let teams = team.store.list_teams().await?;
            filter.team_id = Some(
                teams
                    .iter()
                    .find(|t| t.name == name || t.id == name)
                    .map_or_else(|| format!("unknown:{name}"), |t| t.id.clone()),
            );
        }
    } else {
        filter.user_id = Some(v.user_id().to_owned());
    }
    Ok(Selection {
        from_ms,
        to_ms,
        filter,
        query,
    })
}

/// `GET /portal/spend`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let sel = select(&v, raw.as_deref()).await?;
    let store = &v.ctx.team.store;
    let cells = store
        .spend_by_day_model(sel.from_ms, sel.to_ms, &sel.filter)
        .await?;
    let report = |g| store.spend_report_filtered(g, sel.from_ms, sel.to_ms, &sel.filter);
    let models = report(GroupBy::Model).await?;
    let (users, teams) = if v.reader() {
        (report(GroupBy::User).await?, report(GroupBy::Team).await?)
    } else {
        (Vec::new(), Vec::new())
    };
    let requests: i64 = models.iter().map(|r| r.requests).sum();
    let cost: i64 = models.iter().map(|r| r.cost_nanos).sum();
    let (days, series) = daily(&cells, sel.from_ms, sel.to_ms);
    let csv = csv_link(&sel.query, None);
    let groups: &[&str] = if v.reader() {
        &["user", "team", "key", "model"]
    } else {
        &["key", "model"]
    };
    let body = html! {
        (filters(&v, &sel.query))
        p.total { strong { (requests) } @if requests == 1 { " request, " } @else { " requests, " } strong { (usd(cost)) } }
        figure {
            (stacked_bars("Daily cost by model", &days, &series))
            figcaption { "Daily cost by model (UTC days)" }
        }
        @if v.reader() {
            div.cards {
                figure.card {
                    (hbars("Top users", &top(&users)))
                    figcaption { "Top users" }
                }
                figure.card {
                    (hbars("Top teams", &top(&teams)))
                    figcaption { "Top teams" }
                }
            }
            (table("Top users", "User", &users))
            (table("Top teams", "Team", &teams))
        }
        (table("By model", "Model", &models))
        p.downloads {
            a.button href=(csv) download { "Download CSV" } " (by day) · also by "
            @for g in groups {
                a href=(csv_link(&sel.query, Some(g))) download { (g) } " "
            }
        }
    };
    let title = if v.reader() { "Spend" } else { "My spend" };
    Ok(page(&v, "/portal/spend", title, None, body))
}

/// `GET /portal/spend.csv?group_by=day|user|team|key|model&…`: the same selection as CSV.
pub async fn csv(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let sel = select(&v, raw.as_deref()).await?;
    let group_by = field(&sel.query, "group_by")
        .and_then(GroupBy::parse)
        .unwrap_or(GroupBy::Day);
    let rows = v
        .ctx
        .team
        .store
        .spend_report_filtered(group_by, sel.from_ms, sel.to_ms, &sel.filter)
        .await?;
    let data: Vec<_> = rows.iter().map(row_json).collect();
    Ok(csv_response(
        &data,
        &format!("spend-by-{}.csv", group_by.as_str()),
    ))
}

fn filters(v: &Viewer, q: &HashMap<String, String>) -> Markup {
    let value = |name: &str| q.get(name).cloned().unwrap_or_default();
    html! {
        form.filters method="get" action="/portal/spend" {
            label for="f-from" { "From" }
            input #f-from type="date" name="from" value=(value("from"));
            label for="f-to" { "To" }
            input #f-to type="date" name="to" value=(value("to"));
            @if v.reader() {
                label for="f-user" { "User" }
                input #f-user name="user" value=(value("user")) autocomplete="off";
                label for="f-team" { "Team" }
                input #f-team name="team" value=(value("team")) autocomplete="off";
            }
            label for="f-model" { "Model" }
            input #f-model name="model" value=(value("model")) autocomplete="off";
            button type="submit" { "Apply" }
        }
    }
}

/// `/portal/spend.csv` with the page's filters (values percent-encoded), grouped by `group_by`
/// when given (else by day).
fn csv_link(q: &HashMap<String, String>, group_by: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for name in ["from", "to", "user", "team", "model"] {
        if let Some(v) = q.get(name).filter(|v| !v.trim().is_empty()) {
            out.append_pair(name, v.trim());
        }
    }
    if let Some(group_by) = group_by {
        out.append_pair("group_by", group_by);
    }
    let query = out.finish();
    if query.is_empty() {
        "/portal/spend.csv".to_owned()
    } else {
        format!("/portal/spend.csv?{query}")
    }
}

/// The days of the chart (every day of a short range, else those with spend) and one series
/// per model, most expensive first.
fn daily(
    cells: &[conduit_store::DayModel],
    from_ms: i64,
    to_ms: i64,
) -> (Vec<String>, Vec<Series>) {
    if cells.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let first_day = from_ms.div_euclid(86_400_000);
    let last_day = (to_ms - 1).div_euclid(86_400_000);
    let days: Vec<String> = if last_day - first_day < MAX_DAYS {
        (first_day..=last_day)
            .map(|d| super::layout::day(d * 86_400))
            .collect()
    } else {
        cells
            .iter()
            .map(|c| c.day.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let index: HashMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut per_model: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for c in cells {
        if let Some(&i) = index.get(c.day.as_str()) {
            per_model
                .entry(c.model.as_str())
                .or_insert_with(|| vec![0; days.len()])[i] += c.cost_nanos;
        }
    }
    let mut series: Vec<Series> = per_model
        .into_iter()
        .map(|(name, values)| Series {
            name: name.to_owned(),
            values,
        })
        .collect();
    series.sort_by_key(|s| std::cmp::Reverse(s.values.iter().sum::<i64>()));
    (days, series)
}

fn top(rows: &[ReportRow]) -> Vec<(String, i64)> {
    rows.iter()
        .take(TOP)
        .map(|r| {
            (
                r.group.clone().unwrap_or_else(|| "(none)".to_owned()),
                r.cost_nanos,
            )
        })
        .collect()
}

fn table(caption: &str, what: &str, rows: &[ReportRow]) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead { tr { th { (what) } th { "Requests" } th { "Input tokens" } th { "Output tokens" }
                th { "Cache reads" } th { "Cost" } } }
            tbody {
                @if rows.is_empty() {
                    tr { td colspan="6" { "No requests in this period." } }
                }
                @for r in rows {
                    tr {
                        td { (r.group.as_deref().unwrap_or("(none)")) }
                        td { (r.requests) }
                        td { (r.input) }
                        td { (r.output) }
                        td { (r.cache_read) }
                        td { (usd(r.cost_nanos)) @if r.unpriced > 0 { " (" (r.unpriced) " unpriced)" } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_links_keep_the_filters_and_add_the_grouping() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>()
        };
        for (query, group, link) in [
            (q(&[]), None, "/portal/spend.csv"),
            (q(&[]), Some("user"), "/portal/spend.csv?group_by=user"),
            (
                q(&[("model", " a&b "), ("team", ""), ("page", "2")]),
                Some("key"),
                "/portal/spend.csv?model=a%26b&group_by=key",
            ),
            (
                q(&[("from", "2026-12-01"), ("user", "u1")]),
                None,
                "/portal/spend.csv?from=2026-12-01&user=u1",
            ),
        ] {
            assert_eq!(csv_link(&query, group), link, "{query:?} {group:?}");
        }
    }
}
