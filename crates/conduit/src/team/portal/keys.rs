//! `/portal/keys`: my keys (everyone's for admins and auditors), a form to make one (the
//! secret shown once, with a copy button), and revocation. A member revoking someone else's
//! key gets 404, as for an unknown id.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::response::Response;
use conduit_store::{Credential, CredentialKind};
use maud::html;
use std::collections::HashMap;

use super::layout::{after, done, page, when};
use super::view::{field, number, params, Failure, Viewer};
use crate::team::api::keys::{issue_key, request_for, revoke_key};
use crate::team::api::wire::CreateKey;

/// `active`, `revoked` or `expired` at `now` (Unix seconds).
pub fn status(k: &Credential, now: i64) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

/// `GET /portal/keys`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let team = &v.ctx.team;
    let keys = if v.reader() {
        team.store.list_keys(None).await?
    } else {
        team.store.list_keys(Some(v.user_id())).await?
    };
    let users = team.store.list_users().await?;
    let subjects: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.subject.as_str()))
        .collect();
    let now = crate::team::wire::now();
    let csrf = v.csrf();
    let q = params(raw.as_deref());
    let body = html! {
        section aria-labelledby="new" {
            h2 #new { "Create a key" }
            form.grid method="post" action="/portal/keys" {
                input type="hidden" name="csrf" value=(csrf);
                label for="key-name" { "Key name" }
                input #key-name name="name" maxlength="200" autocomplete="off";
                label for="key-rpm" { "Requests per minute (optional)" }
                input #key-rpm name="rate_limit_rpm" inputmode="numeric" pattern="[0-9]*";
                @if v.admin() {
                    label for="key-owner" { "Owner" }
                    select #key-owner name="user_id" {
                        @for u in users.iter().filter(|u| u.active) {
                            option value=(u.id) selected[u.id == v.user_id()] { (u.subject) }
                        }
                    }
                }
                button type="submit" { "Create key" }
            }
        }
        section aria-labelledby="list" {
            h2 #list { @if v.reader() { "All keys" } @else { "My keys" } }
            @if keys.is_empty() {
                p { "No keys yet." }
            } @else {
                table {
                    thead { tr {
                        th { "Name" } th { "Key" }
                        @if v.reader() { th { "Owner" } }
                        th { "Created" } th { "Last used" } th { "Status" } th { span.sr { "Actions" } }
                    } }
                    tbody {
                        @for k in &keys {
                            @let state = status(k, now);
                            @let owner = k.user_id.as_deref().and_then(|id| subjects.get(id).copied()).unwrap_or("—");
                            tr {
                                td { (k.name) }
                                td { code { (k.prefix) } }
                                @if v.reader() { td { (owner) } }
                                td { (when(k.created_at)) }
                                td { (k.last_used_at.map(when).unwrap_or_else(|| "never".to_owned())) }
                                td { span class={ "badge " (state) } { (state) } }
                                td {
                                    @if state == "active" && (v.admin() || k.user_id.as_deref() == Some(v.user_id())) {
                                        form method="post" action={ "/portal/keys/" (k.id) "/revoke" } data-confirm={ "Revoke the key " (k.name) "? Clients using it stop at once." } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button.danger type="submit" aria-label={ "Revoke " (k.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let notice = done(q.get("done").map(String::as_str));
    Ok(page(&v, "/portal/keys", "Keys", notice, body))
}

/// `POST /portal/keys`: made for me, or for the chosen owner by an admin.
pub async fn create(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    let form = v.form(&body)?;
    let owner = match field(&form, "user_id") {
        Some(id) if v.admin() => id.to_owned(),
        _ => v.user_id().to_owned(),
    };
    let req = CreateKey {
        name: field(&form, "name").map(str::to_owned),
        rate_limit_rpm: number(&form, "rate_limit_rpm", "Requests per minute")?,
        user_id: None,
        team_id: None,
        expires_at: None,
    };
    let team = &v.ctx.team;
    let req = request_for(team, owner, None, req).await?;
    let (secret, key) = issue_key(team, req, &v.actor()).await?;
    let body = html! {
        p { "The key " strong { (key.name) } " is ready. Copy it now: "
            strong { "This is the only time the key is shown." } }
        div.secret {
            code #new-key { (secret) }
            button type="button" data-copy="new-key" { "Copy" }
        }
        p { "Use it as " code { "x-api-key" } " (or a bearer token) against this gateway; "
            a href="/portal/connect" { "Connect Claude Code" } " shows the settings." }
        p { a href="/portal/keys" { "Back to keys" } }
    };
    Ok(page(&v, "/portal/keys", "Key created", None, body))
}

/// `POST /portal/keys/{id}/revoke`.
pub async fn revoke(v: Viewer, Path(id): Path<String>, body: Bytes) -> Result<Response, Failure> {
    v.form(&body)?;
    let team = &v.ctx.team;
    let mine = |c: &Credential| c.user_id.as_deref() == Some(v.user_id());
    team.store
        .credential(&id)
        .await?
        .filter(|c| c.kind == CredentialKind::Key && (v.admin() || mine(c)))
        .ok_or_else(|| Failure::not_found("key"))?;
    let _ = revoke_key(team, &id, &v.actor()).await?;
    Ok(after("/portal/keys", "key_revoked"))
}
