//! `/portal/idps` (admins and auditors): the identity providers (never a client secret: only
//! whether one is set); admins add one, and test any issuer's discovery (the same fetch and
//! checks sign-in uses) to see what the gateway would find there.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use conduit_store::Idp;
use maud::html;
use serde_json::json;

use super::layout::{after, done, page};
use super::view::{field, params, Failure, Viewer};
use crate::team::api::idps::{add, IdpBody};

/// `GET /portal/idps`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    v.require_reader()?;
    let team = &v.ctx.team;
    let env = team.oidc.env_idp().map(|i| (i, "environment"));
    let stored = team.store.list_idps().await?;
    let idps: Vec<(Idp, &str)> = env
        .into_iter()
        .chain(stored.into_iter().map(|i| (i, "admin")))
        .collect();
    let csrf = v.csrf();
    let body = html! {
        @if idps.is_empty() {
            p { "No identity provider yet: people sign in with a password." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Issuer" } th { "Client ID" } th { "Client secret" }
                    th { "New users" } th { "Enabled" } th { "Source" }
                    @if v.admin() { th { span.sr { "Actions" } } } } }
                tbody {
                    @for (idp, source) in &idps {
                        tr {
                            td { (idp.name) }
                            td { code { (idp.issuer_url) } }
                            td { (idp.client_id.as_deref().unwrap_or(&idp.audience)) }
                            td { @if idp.client_secret.is_some() { "set" } @else { "not set" } }
                            td { @if idp.auto_provision { (idp.default_role.as_str()) } @else { "not created" } }
                            td { @if idp.enabled { "yes" } @else { "no" } }
                            td { (source) }
                            @if v.admin() {
                                td {
                                    form method="post" action="/portal/idps/test" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="issuer_url" value=(idp.issuer_url);
                                        button type="submit" aria-label={ "Test discovery of " (idp.name) } { "Test discovery" }
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
                h2 #add { "Add an identity provider" }
                p { "Register " code { (v.ctx.base) "/oauth/callback" } " as the redirect URI of the gateway's client at the provider." }
                form.grid method="post" action="/portal/idps" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="idp-name" { "Name" }
                    input #idp-name name="name" maxlength="200" autocomplete="off";
                    label for="idp-issuer" { "Issuer URL" }
                    input #idp-issuer name="issuer_url" type="url" required autocomplete="off";
                    label for="idp-client" { "Client ID" }
                    input #idp-client name="client_id" autocomplete="off";
                    label for="idp-secret" { "Client secret" }
                    input #idp-secret name="client_secret" type="password" autocomplete="off";
                    label for="idp-aud" { "Audience (optional)" }
                    input #idp-aud name="audience" autocomplete="off";
                    label for="idp-domains" { "Allowed email domains (optional)" }
                    input #idp-domains name="allowed_domains" placeholder="example.com, example.org" autocomplete="off";
                    label for="idp-role" { "Role for new users" }
                    select #idp-role name="default_role" {
                        option value="member" { "member" }
                        option value="auditor" { "auditor" }
                        option value="admin" { "admin" }
                    }
                    label.check for="idp-auto" {
                        input #idp-auto type="checkbox" name="auto_provision" value="true" checked;
                        " Create users on first sign-in"
                    }
                    div.buttons {
                        button type="submit" { "Add identity provider" }
                        button.secondary type="submit" formaction="/portal/idps/test" { "Test discovery" }
                    }
                }
            }
        }
    };
    let q = params(raw.as_deref());
    let notice = done(q.get("done").map(String::as_str));
    Ok(page(&v, "/portal/idps", "Identity providers", notice, body))
}

/// `POST /portal/idps`: the admin API's validation (`POST /admin/idps`).
pub async fn create(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let f = |name: &str| field(&form, name);
    let domains: Vec<&str> = f("allowed_domains")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|d| !d.is_empty())
        .collect();
    let value = json!({
        "name": f("name"),
        "issuer_url": f("issuer_url"),
        "audience": f("audience").or(f("client_id")),
        "client_id": f("client_id"),
        "client_secret": form.get("client_secret").filter(|s| !s.is_empty()),
        "auto_provision": f("auto_provision") == Some("true"),
        "default_role": f("default_role"),
        "allowed_domains": domains,
    });
    let body: IdpBody = serde_json::from_value(value).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("The form is not valid: {e}"),
        )
    })?;
    add(&v.ctx.team, &v.actor(), body).await?;
    Ok(after("/portal/idps", "idp_added"))
}

/// `POST /portal/idps/test` (issuer_url): what discovery finds there, or why it fails.
pub async fn test(v: Viewer, body: Bytes) -> Result<Response, Failure> {
    v.require_admin()?;
    let form = v.form(&body)?;
    let issuer = field(&form, "issuer_url").unwrap_or_default().to_owned();
    let found = crate::team::oidc::probe(&v.ctx.web.http, &issuer).await;
    let body = html! {
        p { "Issuer tested: " code { (issuer) } }
        @match &found {
            Ok(p) => {
                p role="status" { "Discovery succeeded." }
                dl.found {
                    dt { "Issuer" } dd { code { (p.issuer) } }
                    dt { "Authorization endpoint" } dd { code { (p.authorization_endpoint) } }
                    dt { "Token endpoint" } dd { code { (p.token_endpoint) } }
                    dt { "JWKS URI" } dd { code { (p.jwks_uri) } }
                    dt { "Signing keys" } dd { (p.keys.len()) @if !p.keys.is_empty() { ": " (p.keys.join(", ")) } }
                }
            }
            Err(e) => {
                p role="alert" { "Discovery failed: " (e.message) }
            }
        }
        p { a href="/portal/idps" { "Back to identity providers" } }
    };
    Ok(page(&v, "/portal/idps", "Discovery", None, body))
}
