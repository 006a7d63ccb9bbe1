//! `GET /portal` signed in: who I am, what I spent in each period, the caps that apply to me
//! with what is left, and my keys.

use axum::response::Response;
use conduit_spend::budget::user_key;
use conduit_spend::Period;
use maud::html;

use super::keys::status;
use super::layout::{page, usd, when};
use super::view::{Failure, Viewer};

/// The periods shown, with their labels.
const PERIODS: [(Period, &str); 3] = [
    (Period::Daily, "Today"),
    (Period::Weekly, "This week"),
    (Period::Monthly, "This month"),
];

pub async fn show(v: Viewer) -> Result<Response, Failure> {
    let team = &v.ctx.team;
    let user = team.store.user(v.user_id()).await?;
    let name = user
        .as_ref()
        .and_then(|u| u.email.clone())
        .or(v.me.subject.clone())
        .unwrap_or_default();
    let spend = &team.spend;
    let now = spend.now();
    let own = user_key(v.user_id());
    let spent: Vec<(&str, i64)> = PERIODS
        .iter()
        .map(|(period, label)| {
            let (start, _) = period.window(now, &spend.tz);
            (*label, spend.totals.get(&own, period.as_str(), start))
        })
        .collect();
    let verdict = spend.verdict(&v.me);
    let keys = team.store.list_keys(Some(v.user_id())).await?;
    let now_s = crate::team::wire::now();
    let live: Vec<_> = keys
        .iter()
        .filter(|k| status(k, now_s) == "active")
        .collect();
    let body = html! {
        p { "Signed in as " strong { (name) } " (" (v.role().as_str()) ")." }
        div.cards {
            section.card aria-labelledby="usage" {
                h2 #usage { "Usage this period" }
                dl {
                    @for (label, nanos) in &spent {
                        dt { (label) }
                        dd { (usd(*nanos)) }
                    }
                }
                p { a href="/portal/spend" { "Details" } }
            }
            section.card aria-labelledby="budget" {
                h2 #budget { "My budget" }
                @if let Some(block) = &verdict.blocked {
                    p role="alert" { (block.message) }
                }
                @if verdict.caps.is_empty() {
                    p { "No spend limit applies to you." }
                } @else {
                    table {
                        thead { tr { th { "Period" } th { "Limit" } th { "Spent" } th { "Left" } th { "Resets" } } }
                        tbody {
                            @for cap in &verdict.caps {
                                tr {
                                    td { (cap.period.as_str()) }
                                    td { (usd(cap.cap_nanos)) }
                                    td { (usd(cap.spent_nanos)) }
                                    td { (usd(cap.remaining_nanos.max(0))) }
                                    td { (cap.reset_s.map(when).unwrap_or_else(|| "never".to_owned())) }
                                }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="mykeys" {
                h2 #mykeys { "My keys" }
                @if live.is_empty() {
                    p { "You have no live keys. " a href="/portal/keys" { "Create one" } "." }
                } @else {
                    ul.keys {
                        @for k in &live {
                            li { code { (k.prefix) } " " (k.name) }
                        }
                    }
                    p { a href="/portal/keys" { "Manage keys" } }
                }
            }
        }
    };
    Ok(page(&v, "/portal", "Overview", None, body))
}
