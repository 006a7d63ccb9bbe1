//! `/portal`: "signed in as …" with a logout form, or the password form and one button per
//! identity provider. Password sign-in has `/auth/login`'s checks (throttle per address and
//! username, one answer for every failure, failures audited); either way the session is a
//! `conduit_session` cookie.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conduit_store::FlowPurpose;

use super::cookie::{self, SESSION};
use super::html::{escape, hidden, redirect, Page};
use super::{flow, Ctx};
use crate::team::portal::{overview, Viewer};
use crate::team::signin;
use crate::team::wire::{digest, form};

/// The one refusal for a wrong password, an unknown or inactive user, or one without one.
const REFUSED: &str = "Invalid username or password.";

/// `GET /portal`: the console's overview when signed in, else the sign-in page (which says
/// why after an idle session was ended: `?ended=idle`).
pub async fn show(mut ctx: Ctx, RawQuery(raw): RawQuery) -> Result<Response, Page> {
    if ctx.browser.session(&ctx.team)?.is_some() {
        return Ok(match Viewer::check(ctx, true).await {
            Ok(viewer) => overview(viewer).await.into_response(),
            Err(response) => response,
        });
    }
    let (_, bind) = ctx.browser.bind();
    let ended = form(raw.unwrap_or_default().as_bytes()).remove("ended");
    let note = (ended.as_deref() == Some("idle")).then(|| {
        format!(
            "Your session ended after {} minutes without activity.",
            ctx.team.settings.portal_idle.as_secs() / 60
        )
    });
    let body = sign_in_body(&ctx, note.as_deref());
    let page = Page::new(StatusCode::OK, "Sign in", body).cookie(bind);
    Ok(page.for_idps(&ctx.team).into_response())
}

/// The password form and the IdP buttons, with `error` above them.
fn sign_in_body(ctx: &Ctx, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        body.push_str(&format!("<p><strong>{}</strong></p>\n", escape(e)));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/portal/login\">{}\n\
         <p><label>Username <input name=\"username\" autocomplete=\"username\" required></label></p>\n\
         <p><label>Password <input type=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required></label></p>\n\
         <p><button type=\"submit\">Sign in</button></p></form>\n",
        hidden("csrf", &ctx.browser.csrf())
    ));
    for idp in ctx.team.oidc.list() {
        let id: String = url::form_urlencoded::byte_serialize(idp.id.as_bytes()).collect();
        body.push_str(&format!(
            "<p><a href=\"/portal/sso/{}\">Sign in with {}</a></p>\n",
            escape(&id),
            escape(&idp.name)
        ));
    }
    body
}

/// `POST /portal/login` (username, password, csrf).
pub async fn login(mut ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    let username = f.get("username").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let ip = ctx.ip_text();
    let throttle = &ctx.web.throttle;
    let checked = signin::password(
        &ctx.team,
        throttle,
        ip.as_deref(),
        &username,
        password,
        "portal",
    )
    .await?;
    let Some(user) = checked else {
        let (_, bind) = ctx.browser.bind();
        let body = sign_in_body(&ctx, Some(REFUSED));
        let page = Page::new(StatusCode::UNAUTHORIZED, "Sign in", body).cookie(bind);
        return Ok(page.for_idps(&ctx.team).into_response());
    };
    let session = signin::session(&ctx.team, &user, "portal", ip.as_deref()).await?;
    let ttl = signin::ttl_secs(&ctx.team);
    let c = cookie::set(SESSION, &session.secret, ttl, ctx.browser.secure());
    Ok(redirect(StatusCode::SEE_OTHER, "/portal", &[c]))
}

/// `POST /portal/logout` (csrf): end the session, clear the cookie.
pub async fn logout(ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    if let Some(p) = ctx.browser.session(&ctx.team)? {
        let actor = p.actor(ctx.ip_text());
        ctx.team
            .store
            .revoke_credential(&p.credential_id, "auth.logout", &actor)
            .await?;
        crate::team::api::sync(&ctx.team).await;
    }
    let clear = cookie::clear(SESSION, ctx.browser.secure());
    Ok(redirect(StatusCode::SEE_OTHER, "/portal", &[clear]))
}

/// `GET /portal/sso/{idp_id}`: start a portal flow at that IdP.
pub async fn sso(mut ctx: Ctx, Path(idp_id): Path<String>) -> Result<Response, Page> {
    let (binding, bind) = ctx.browser.bind();
    let start = flow::Start {
        purpose: FlowPurpose::Portal,
        idp_id: &idp_id,
        target: None,
        binding_digest: digest(&binding),
        redirect_uri: ctx.redirect_uri(),
    };
    let url = ctx.start_flow(start).await?;
    Ok(redirect(StatusCode::FOUND, &url, &[bind]))
}
