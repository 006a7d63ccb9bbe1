//! `/portal/budgets` (admins and auditors): spend limits (Anthropic's scopes plus conduit's
//! pools) with what has been spent against the pools, and rate limits; admins set and delete
//! them through the admin API's own validation.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use conduit_spend::budget::{key_key, team_key, user_key, GATEWAY_KEY};
use conduit_spend::Period;
use conduit_store::{SpendLimit, SpendScope};
use maud::html;
use serde_json::{json, Map, Value};

use super::layout::{after, done, page, usd};
use super::view::{field, number, params, Failure, Viewer};
use crate::state::TeamState;
use crate::team::api::limits::{delete_limits, set_limits, SetLimits};
use crate::team::api::spend_limits::{delete_limit, upsert_limit};

const SCOPES: [(&str, &str); 6] = [
    ("user", "user (each person, by username)"),
    ("team", "team (pool, by team id or name)"),
    ("key", "key (pool, by key id)"),
    ("organization", "organization (each person)"),
    ("rbac_group", "rbac_group (each member of a team)"),
    ("gateway", "gateway (pool: everything)"),
];
const PERIODS: [&str; 4] = ["daily", "weekly", "monthly", "total"];

/// `GET /portal/budgets`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    v.require_reader()?;
    let team = &v.ctx.team;
    let limits = team.store.all_spend_limits().await?;
    let rates = team.store.list_rate_limits().await?;
    let users = team.store.list_users().await?;
    let by_subject: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.subject.as_str(), u.id.as_str()))
        .collect();
    let csrf = v.csrf();
    let body = html! {
        section aria-labelledby="budgets" {
            h2 #budgets { "Spend limits" }
            @if limits.is_empty() {
                p { "No spend limit is set." }
            } @else {
                table {
                    thead { tr { th { "Scope" } th { "Applies to" } th { "Period" } th { "Limit (USD)" }
                        th { "Spent" } th { "Remaining" } @if v.admin() { th { span.sr { "Actions" } } } } }
                    tbody {
                        @for l in &limits {
                            @let spent = spent(team, l, &by_subject);
                            @let cap = l.amount_cents.map(|c| c * 10_000_000);
                            tr {
                                td { (l.scope_type.as_str()) }
                                td { @if l.scope_id.is_empty() { "everyone" } @else { (l.scope_id) } }
                                td { (l.period.as_str()) }
                                td { (cap.map(usd).unwrap_or_else(|| "no cap".to_owned())) }
                                td { (spent.map(usd).unwrap_or_else(|| "per person".to_owned())) }
                                td { @match (cap, spent) { (Some(c), Some(s)) => { (usd((c - s).max(0))) }, _ => { "—" } } }
                                @if v.admin() {
                                    td {
                                        form method="post" action={ "/portal/budgets/" (l.id) "/delete" } data-confirm="Delete this spend limit?" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button.danger type="submit" aria-label={ "Delete the " (l.period.as_str()) " limit of " (l.scope_type.as_str()) " " (l.scope_id) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if v.admin() {
                h3 { "Set a budget" }
                form.grid method="post" action="/portal/budgets" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="b-scope" { "Scope" }
                    select #b-scope name="scope_type" { @for (s, label) in SCOPES { option value=(s) { (label) } } }
                    label for="b-id" { "Applies to" }
                    input #b-id name="scope_id" autocomplete="off" placeholder="username, team, key id; empty for organization and gateway";
                    label for="b-period" { "Period" }
                    select #b-period name="period" { @for p in PERIODS { option value=(p) selected[p == "monthly"] { (p) } } }
                    label for="b-amount" { "Limit (USD)" }
                    input #b-amount name="amount_usd" inputmode="decimal" required placeholder="500.00";
                    button type="submit" { "Set budget" }
                }
            }
        }
        section aria-labelledby="rates" {
            h2 #rates { "Rate limits" }
            @if rates.is_empty() {
                p { "No rate limit is set." }
            } @else {
                table {
                    thead { tr { th { "Scope" } th { "Applies to" } th { "Requests/min" } th { "Tokens/min" }
                        th { "Concurrent streams" } @if v.admin() { th { span.sr { "Actions" } } } } }
                    tbody {
                        @for r in &rates {
                            tr {
                                td { (r.scope_type.as_str()) }
                                td { (r.scope_id) }
                                td { (opt(r.rpm)) } td { (opt(r.tpm)) } td { (opt(r.max_streams)) }
                                @if v.admin() {
                                    td {
                                        form method="post" action={ "/portal/limits/" (r.scope_type.as_str()) "/" (r.scope_id) "/delete" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button.danger type="submit" aria-label={ "Delete the rate limit of " (r.scope_type.as_str()) " " (r.scope_id) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if v.admin() {
                h3 { "Set a rate limit" }
                form.grid method="post" action="/portal/limits" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="r-scope" { "Scope" }
                    select #r-scope name="scope_type" { option value="user" { "user" } option value="team" { "team" } option value="key" { "key" } }
                    label for="r-id" { "Applies to" }
                    input #r-id name="scope_id" required autocomplete="off" placeholder="username, team name or key id";
                    label for="r-rpm" { "Requests per minute" }
                    input #r-rpm name="rpm" inputmode="numeric";
                    label for="r-tpm" { "Tokens per minute" }
                    input #r-tpm name="tpm" inputmode="numeric";
                    label for="r-streams" { "Concurrent streams" }
                    input #r-streams name="max_streams" inputmode="numeric";
                    button type="submit" { "Set rate limit" }
                }
            }
        }
    };
    let q = params(raw.as_deref());
    let notice = done(q.get("done").map(String::as_str));
    Ok(page(
        &v,
        "/portal/budgets",
        "Budgets and limits",
        notice,
        body,
    ))
}

fn opt(n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| n.to_string())
}

/// What has been spent in the limit's current window, where that is one number (a user or a
/// pool); `None` for per-seat limits that apply to each person apart.
fn spent(team: &TeamState, l: &SpendLimit, by_subject: &HashMap<&str, &str>) -> Option<i64> {
    let scope = match l.scope_type {
        SpendScope::User => user_key(by_subject.get(l.scope_id.as_str())?),
        SpendScope::Team => team_key(&l.scope_id),
        SpendScope::Key => key_key(&l.scope_id),
        SpendScope::Gateway => GATEWAY_KEY.to_owned(),
        SpendScope::Organization | SpendScope::RbacGroup => return None,
    };
    let period: Period = l.period.as_str().parse().ok()?;
    let (start, _) = period.window(team.spend.now(), &team.spend.tz);
    Some(team.spend.totals.get(&scope, period.as_str(), start))
}

/// `"12.5"` dollars → 1250 cents.
fn cents(text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("Limit (USD): {text:?} is not an amount such as 500 or 12.50."),
        )
    };
    let text = text.trim().trim_start_matches('$').replace(',', "");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac))
        .ok_or_else(bad)
}

/// `POST /portal/budgets` (scope_type, scope_id, period, amount_usd): the wire shape of
/// `POST /v1/organizations/spend_limits`, validated there.
pub async fn set_budget(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let scope_type = field(&form, "scope_type").unwrap_or_default();
    let mut id = field(&form, "scope_id").unwrap_or_default().to_owned();
    if scope_type == "team" {
        id = resolve_team(&v.ctx.team, &id).await?;
    }
    let mut scope = Map::new();
    scope.insert("type".into(), json!(scope_type));
    if let Some(name) = match scope_type {
        "user" => Some("user_id"),
        "rbac_group" => Some("rbac_group_id"),
        "team" => Some("team_id"),
        "key" => Some("key_id"),
        _ => None,
    } {
        scope.insert(name.into(), json!(id));
    }
    let amount = cents(field(&form, "amount_usd").unwrap_or_default())?;
    let wire = json!({
        "scope": Value::Object(scope),
        "period": field(&form, "period"),
        "amount": amount.to_string(),
        "currency": "USD",
    });
    upsert_limit(&v.ctx.team, &v.actor(), &wire).await?;
    Ok(after("/portal/budgets", "budget_set"))
}

/// `POST /portal/budgets/{id}/delete`.
pub async fn delete_budget(
    v: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    v.require_admin()?;
    v.form(&body)?;
    delete_limit(&v.ctx.team, &v.actor(), &id).await?;
    Ok(after("/portal/budgets", "budget_deleted"))
}

/// A team's id from its id or its name (as typed in a form).
async fn resolve_team(team: &TeamState, text: &str) -> Result<String, Failure> {
    let teams = team.store.list_teams().await?;
    Ok(teams
        .iter()
        .find(|t| t.id == text || t.name == text)
        .map_or_else(|| text.to_owned(), |t| t.id.clone()))
}

/// `POST /portal/limits` (scope_type, scope_id, rpm, tpm, max_streams).
pub async fn set_limit(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let team = &v.ctx.team;
    let scope_type = field(&form, "scope_type").unwrap_or_default();
    let typed = field(&form, "scope_id").unwrap_or_default();
    let id = match scope_type {
        "team" => resolve_team(team, typed).await?,
        "user" => match team.store.user_by_subject(typed).await? {
            Some(u) => u.id,
            None => typed.to_owned(),
        },
        _ => typed.to_owned(),
    };
    let set = SetLimits {
        rpm: number(&form, "rpm", "Requests per minute")?,
        tpm: number(&form, "tpm", "Tokens per minute")?,
        max_streams: number(&form, "max_streams", "Concurrent streams")?,
    };
    set_limits(team, &v.actor(), scope_type, &id, set).await?;
    Ok(after("/portal/budgets", "limit_set"))
}

/// `POST /portal/limits/{scope}/{id}/delete`.
pub async fn delete_rate_limit(
    v: Viewer,
    Path((scope, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    v.require_admin()?;
    v.form(&body)?;
    delete_limits(&v.ctx.team, &v.actor(), &scope, &id).await?;
    Ok(after("/portal/budgets", "limit_deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_to_cents() {
        for (text, want) in [
            ("500", Some(50_000)),
            ("12.5", Some(1250)),
            ("$1,000.05", Some(100_005)),
            ("0.01", Some(1)),
            ("1.234", None),
            ("ten", None),
            ("", None),
            ("-5", None),
        ] {
            assert_eq!(cents(text).ok(), want, "{text:?}");
        }
    }
}
