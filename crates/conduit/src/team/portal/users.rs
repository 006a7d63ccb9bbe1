//! `/portal/users` (admins and auditors): search, and for admins: create, change role and
//! team, deactivate and bring back. The rules are the admin API's (`team/api/users.rs`): an
//! admin cannot demote or deactivate themselves.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use conduit_store::{Role, User};
use maud::{html, Markup};

use super::layout::{after, done, page};
use super::view::{field, params, Failure, Viewer};
use crate::team::api::users::{apply, create_user, parse_role};
use crate::team::api::wire::CreateUser;

const ROLES: [Role; 3] = [Role::Member, Role::Auditor, Role::Admin];

/// Whether `u` matches the search `q` (case-insensitive, subject or email).
fn matches(u: &User, q: &str) -> bool {
    let q = q.to_lowercase();
    u.subject.to_lowercase().contains(&q)
        || u.email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(&q))
}

/// `GET /portal/users?q=`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    v.require_reader()?;
    let team = &v.ctx.team;
    let q = params(raw.as_deref());
    let search = field(&q, "q").unwrap_or_default().to_owned();
    let users: Vec<User> = team
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| search.is_empty() || matches(u, &search))
        .collect();
    let teams = team.store.list_teams().await?;
    let team_name = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| teams.iter().find(|t| t.id == id))
            .map_or("—".to_owned(), |t| t.name.clone())
    };
    let csrf = v.csrf();
    let team_options = |selected: Option<&str>| -> Markup {
        html! {
            option value="" selected[selected.is_none()] { "(no team)" }
            @for t in &teams {
                option value=(t.id) selected[selected == Some(t.id.as_str())] { (t.name) }
            }
        }
    };
    let body = html! {
        form.search method="get" action="/portal/users" role="search" {
            label for="user-q" { "Search users" }
            input #user-q type="search" name="q" value=(search);
            button type="submit" { "Search" }
        }
        @if users.is_empty() {
            p { "No users match." }
        } @else {
            table {
                thead { tr { th { "Subject" } th { "Email" } th { "Role" } th { "Team" } th { "Status" }
                    @if v.admin() { th { span.sr { "Actions" } } } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.subject) }
                            td { (u.email.as_deref().unwrap_or("—")) }
                            td { (u.role.as_str()) }
                            td { (team_name(&u.team_id)) }
                            td { @if u.active { "active" } @else { span.badge.revoked { "inactive" } } }
                            @if v.admin() {
                                td.actions {
                                    form.inline method="post" action={ "/portal/users/" (u.id) } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        label.sr for={ "role-" (u.id) } { "Role for " (u.subject) }
                                        select id={ "role-" (u.id) } name="role" {
                                            @for r in ROLES {
                                                option value=(r.as_str()) selected[r == u.role] { (r.as_str()) }
                                            }
                                        }
                                        label.sr for={ "team-" (u.id) } { "Team for " (u.subject) }
                                        select id={ "team-" (u.id) } name="team_id" { (team_options(u.team_id.as_deref())) }
                                        button type="submit" aria-label={ "Save " (u.subject) } { "Save" }
                                    }
                                    @if u.id != v.user_id() {
                                    form.inline method="post" action={ "/portal/users/" (u.id) "/active" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        @if u.active {
                                            input type="hidden" name="active" value="false";
                                            button.danger type="submit" aria-label={ "Deactivate " (u.subject) } { "Deactivate" }
                                        } @else {
                                            input type="hidden" name="active" value="true";
                                            button type="submit" aria-label={ "Activate " (u.subject) } { "Activate" }
                                        }
                                    }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if v.admin() {
            section aria-labelledby="add" {
                h2 #add { "Add a user" }
                form.grid method="post" action="/portal/users" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="new-subject" { "Username or email" }
                    input #new-subject name="subject" required maxlength="320" autocomplete="off";
                    label for="new-email" { "Email (optional)" }
                    input #new-email name="email" type="email" maxlength="320" autocomplete="off";
                    label for="new-password" { "Password (optional)" }
                    input #new-password name="password" type="password" autocomplete="new-password";
                    label for="new-role" { "Role" }
                    select #new-role name="role" {
                        @for r in ROLES { option value=(r.as_str()) { (r.as_str()) } }
                    }
                    label for="new-team" { "Team" }
                    select #new-team name="team_id" { (team_options(None)) }
                    button type="submit" { "Create user" }
                }
            }
        }
    };
    let notice = done(q.get("done").map(String::as_str));
    Ok(page(&v, "/portal/users", "Users", notice, body))
}

/// `POST /portal/users`.
pub async fn create(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let owned = |name: &str| field(&form, name).map(str::to_owned);
    let new = CreateUser {
        subject: owned("subject"),
        email: owned("email"),
        role: owned("role"),
        team_id: owned("team_id"),
        password: form.get("password").filter(|p| !p.is_empty()).cloned(),
    };
    create_user(&v.ctx.team, &v.actor(), new).await?;
    Ok(after("/portal/users", "user_created"))
}

/// `POST /portal/users/{id}` (role, team_id).
pub async fn update(v: Viewer, Path(id): Path<String>, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let team = &v.ctx.team;
    let user = team
        .store
        .user(&id)
        .await?
        .ok_or_else(|| Failure::not_found("user"))?;
    if let Some(role) = field(&form, "role").map(parse_role).transpose()? {
        if role != user.role {
            apply(team, &v.caller(), &id, Some(role), None).await?;
        }
    }
    if form.contains_key("team_id") {
        let wanted = field(&form, "team_id");
        if wanted != user.team_id.as_deref() {
            team.store.set_user_team(&id, wanted, &v.actor()).await?;
            crate::team::api::sync(team).await;
        }
    }
    Ok(after("/portal/users", "user_updated"))
}

/// `POST /portal/users/{id}/active` (active = true | false).
pub async fn set_active(
    v: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let active = match field(&form, "active") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "active: must be true or false.",
            ))
        }
    };
    apply(&v.ctx.team, &v.caller(), &id, None, Some(active)).await?;
    Ok(after("/portal/users", "user_updated"))
}
