//! `/device`: where a person types the code Claude Code shows (RFC 8628 verification page).
//! A pending code leads to a confirm page (signed in to the portal already) or to sign-in at
//! an identity provider first; `POST /device/decide` approves or denies it as that person.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, ErrorKind};
use conduit_store::{DeviceStatus, FlowPurpose};
use serde::Deserialize;

use super::html::{escape, hidden, redirect, Page};
use super::{flow, Ctx};
use crate::team::oauth::device::{normalise, user_code_digest};
use crate::team::wire::{digest, form, now};

#[derive(Deserialize)]
pub struct Prefill {
    user_code: Option<String>,
}

/// `GET /device[?user_code=XXXX-XXXX]`.
pub async fn show(mut ctx: Ctx, Query(q): Query<Prefill>) -> Response {
    let (_, bind) = ctx.browser.bind();
    let code = q.user_code.unwrap_or_default();
    Page::new(StatusCode::OK, "Connect a device", code_form(&ctx, &code))
        .cookie(bind)
        .for_idps(&ctx.team)
        .into_response()
}

fn code_form(ctx: &Ctx, code: &str) -> String {
    format!(
        "<p>Enter the code your terminal shows.</p>\n\
         <form method=\"post\" action=\"/device\">{}\n\
         <p><label>Code <input name=\"user_code\" value=\"{}\" autocomplete=\"off\" \
         autocapitalize=\"characters\" required></label></p>\n\
         <p><button type=\"submit\">Continue</button></p></form>",
        hidden("csrf", &ctx.browser.csrf()),
        escape(code)
    )
}

/// `POST /device` (user_code, csrf, optional idp): check the code, then confirm or sign in.
pub async fn enter(mut ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    ctx.web
        .device_limit
        .check(ctx.ip, Instant::now())
        .map_err(|secs| {
            Error::limited(
                format!("Too many codes tried from this address: wait {secs} s."),
                secs,
            )
        })?;
    let typed = f.get("user_code").cloned().unwrap_or_default();
    let code = normalise(&typed);
    let found = ctx
        .team
        .store
        .device_by_user_code(&user_code_digest(&code))
        .await?;
    let Some(device) = found.filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now())
    else {
        return Err(Page::notice(
            StatusCode::BAD_REQUEST,
            "Unknown code",
            "This code is unknown, expired or already used. Start the sign-in again in your \
             terminal for a new code.",
        ));
    };
    let (binding, bind) = ctx.browser.bind();
    if ctx.browser.session(&ctx.team)?.is_some() {
        return Ok(confirm(&ctx, &device.id).cookie(bind).into_response());
    }
    let idps = ctx.team.oidc.list();
    let chosen = match f.get("idp") {
        Some(id) => idps.iter().find(|i| &i.id == id),
        None if idps.len() == 1 => idps.first(),
        None => None,
    };
    if let Some(idp) = chosen {
        let start = flow::Start {
            purpose: FlowPurpose::Device,
            idp_id: &idp.id,
            target: Some(device.id.clone()),
            binding_digest: digest(&binding),
            redirect_uri: ctx.redirect_uri(),
        };
        let url = ctx.start_flow(start).await?;
        return Ok(redirect(StatusCode::SEE_OTHER, &url, &[bind]));
    }
    if idps.is_empty() {
        return Err(Page::sign_in_first("enter the code again"));
    }
    let mut body = String::from("<p>Sign in to approve this device:</p>\n");
    for idp in &idps {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/device\">{}{}{}\
             <button type=\"submit\">Sign in with {}</button></form>\n",
            hidden("csrf", &ctx.browser.csrf()),
            hidden("user_code", &code),
            hidden("idp", &idp.id),
            escape(&idp.name)
        ));
    }
    let page = Page::new(StatusCode::OK, "Choose how to sign in", body);
    Ok(page.cookie(bind).for_idps(&ctx.team).into_response())
}

/// The Approve / Deny form for device code `id` (the browser is bound already).
pub fn confirm(ctx: &Ctx, id: &str) -> Page {
    let body = format!(
        "<p>A terminal asks to sign in to this gateway as you (Claude Code). Approve only if \
         you started it and the code matches.</p>\n\
         <form method=\"post\" action=\"/device/decide\">{}{}\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        hidden("csrf", &ctx.browser.csrf()),
        hidden("device", id)
    );
    Page::new(StatusCode::OK, "Approve this device?", body)
}

/// `POST /device/decide` (device, decision, csrf): as the portal session's user.
pub async fn decide(ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    let Some(p) = ctx.browser.session(&ctx.team)? else {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            "Your sign-in has ended. Enter the code at /device again.",
        )
        .into());
    };
    let id = f.get("device").cloned().unwrap_or_default();
    let approve = f.get("decision").map(String::as_str) == Some("approve");
    let actor = p.actor(ctx.ip_text());
    let user = p.user_id.as_deref().filter(|_| approve);
    if !ctx.team.store.decide_device_code(&id, user, &actor).await? {
        return Err(Page::notice(
            StatusCode::BAD_REQUEST,
            "Code no longer pending",
            "This code has expired or was already approved or denied. Start the sign-in again \
             in your terminal.",
        ));
    }
    let (title, text) = if approve {
        ("Device approved", "You can return to your terminal.")
    } else {
        (
            "Device denied",
            "The terminal's sign-in was refused. You can return to your terminal.",
        )
    };
    Ok(Page::notice(StatusCode::OK, title, text).into_response())
}
