//! `/portal/teams` (admins and auditors): each team with its members and this month's spend;
//! admins add teams.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::response::Response;
use conduit_spend::Period;
use conduit_store::GroupBy;
use maud::html;

use super::layout::{after, done, page, usd};
use super::view::{field, params, Failure, Viewer};
use crate::team::api::teams::create_team;

/// `GET /portal/teams`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    v.require_reader()?;
    let team = &v.ctx.team;
    let teams = team.store.list_teams().await?;
    let users = team.store.list_users().await?;
    let mut members: HashMap<&str, usize> = HashMap::new();
    for u in &users {
        if let Some(t) = &u.team_id {
            *members.entry(t.as_str()).or_default() += 1;
        }
    }
    let (start, end) = Period::Monthly.window(team.spend.now(), &team.spend.tz);
    let end = end.unwrap_or(start + 31 * 86_400);
    let spent: HashMap<String, i64> = team
        .store
        .spend_report(GroupBy::Team, start * 1000, end * 1000, None)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.id?, r.cost_nanos)))
        .collect();
    let body = html! {
        @if teams.is_empty() {
            p { "No teams yet." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Members" } th { "Spend this month" } } }
                tbody {
                    @for t in &teams {
                        tr {
                            td { (t.name) }
                            td { (members.get(t.id.as_str()).copied().unwrap_or(0)) }
                            td { (usd(spent.get(&t.id).copied().unwrap_or(0))) }
                        }
                    }
                }
            }
        }
        @if v.admin() {
            section aria-labelledby="add" {
                h2 #add { "Add a team" }
                form.grid method="post" action="/portal/teams" {
                    input type="hidden" name="csrf" value=(v.csrf());
                    label for="team-name" { "Team name" }
                    input #team-name name="name" required maxlength="200" autocomplete="off";
                    button type="submit" { "Create team" }
                }
            }
        }
    };
    let q = params(raw.as_deref());
    let notice = done(q.get("done").map(String::as_str));
    Ok(page(&v, "/portal/teams", "Teams", notice, body))
}

/// `POST /portal/teams` (name).
pub async fn create(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let name = field(&form, "name").unwrap_or_default();
    create_team(&v.ctx.team, &v.actor(), name).await?;
    Ok(after("/portal/teams", "team_created"))
}
