//! `GET /oauth/authorize` and its consent (`POST /oauth/authorize/decide`): the authorization
//! code + PKCE sign-in of `conduit token login`. A checked request (`oauth/authorize.rs`) is a
//! command-line sign-in (`cli.rs`) with its redirect URI and state: stored under the S256
//! challenge, bound to this browser, signed in the same way (portal session, else the IdP, else
//! the chooser), then the consent page instead of the command line's confirm page. Connect
//! sends the browser to the loopback redirect URI with a one-time code, Cancel with
//! `error=access_denied`.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use conduit_store::{Actor, AuthorizeRequest, StoreError};

use super::cli::{self, Who};
use super::html::{hidden, redirect, Page};
use super::Ctx;
use crate::team::oauth::authorize::{check, code_url, error_url, form_origin, Refused};
use crate::team::wire::{digest, form, now, random_token};

/// How long the person has to sign in and decide (as for `/auth/cli/login`).
const PENDING_SECS: i64 = 300;
/// How long a code is valid.
const CODE_SECS: i64 = 120;

/// `GET /oauth/authorize?response_type=code&client_id=conduit-cli&redirect_uri&code_challenge
/// &code_challenge_method=S256&state`.
pub async fn authorize(mut ctx: Ctx, RawQuery(query): RawQuery) -> Result<Response, Page> {
    let checked = match check(query.as_deref().unwrap_or_default()) {
        Ok(checked) => checked,
        Err(Refused::Page(text)) => {
            return Err(Page::notice(
                StatusCode::BAD_REQUEST,
                "Bad sign-in request",
                &text,
            ))
        }
        Err(Refused::Redirect(url)) => return Ok(redirect(StatusCode::FOUND, &url, &[])),
    };
    let who = Who::find(&ctx)?;
    ctx.admit_start()?;
    let (binding, bind) = ctx.browser.bind();
    let created = ctx
        .team
        .store
        .create_authorize_session(
            &checked.challenge,
            &digest(&binding),
            now() + PENDING_SECS,
            checked.request.clone(),
        )
        .await;
    let cli = match created {
        Ok(cli) => cli,
        Err(StoreError::Conflict(_)) => {
            let why = "this code_challenge was used already: make a new verifier";
            let url = error_url(&checked.request, "invalid_request", why);
            return Ok(redirect(StatusCode::FOUND, &url, &[]));
        }
        Err(e) => return Err(e.into()),
    };
    who.sign_in(&ctx, &cli.id, &binding, bind).await
}

/// The consent page for the signed-in authorize request `id`.
pub fn consent(ctx: &Ctx, id: &str, request: &AuthorizeRequest) -> Page {
    let body = format!(
        "<p>The conduit command on this computer asks for tokens to use this gateway as you. \
         Connect only if you just ran <code>conduit token login</code>.</p>\n\
         <form method=\"post\" action=\"/oauth/authorize/decide\">{}{}\n\
         <button type=\"submit\" name=\"decision\" value=\"connect\">Connect</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form>",
        hidden("csrf", &ctx.browser.csrf()),
        hidden("session", id)
    );
    let mut page = Page::new(
        StatusCode::OK,
        "Connect conduit on this computer to your account?",
        body,
    );
    // Browsers hold the form's redirect to the loopback listener to `form-action` too.
    page.form_origins = vec![form_origin(&request.redirect_uri)];
    page
}

/// `POST /oauth/authorize/decide` (session, decision=connect|cancel, csrf): only from the
/// browser that started it; the answer goes to the request's redirect URI.
pub async fn decide(ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    let id = f.get("session").cloned().unwrap_or_default();
    let found = ctx.team.store.cli_session(&id).await?;
    let cli = cli::mine(&ctx, found.as_ref()).map_err(|p| *p)?;
    let Some(request) = &cli.authorize else {
        return Err(cli::expired());
    };
    let binding = ctx.browser.binding_digest().unwrap_or_default();
    let actor = actor(&ctx, cli.user_id.as_deref());
    let t = now();
    let url = match f.get("decision").map(String::as_str) {
        Some("connect") => {
            let code = random_token();
            let store = &ctx.team.store;
            let approved = store
                .approve_authorization(&id, &binding, &digest(&code), t + CODE_SECS, t, &actor)
                .await?;
            approved.then(|| code_url(request, &code, &ctx.base))
        }
        Some("cancel") => {
            let denied = ctx.team.store.deny_authorization(&id, &binding, t, &actor);
            let why = "the person cancelled the sign-in";
            denied
                .await?
                .then(|| error_url(request, "access_denied", why))
        }
        _ => {
            return Err(Page::notice(
                StatusCode::BAD_REQUEST,
                "Choose Connect or Cancel",
                "This form came back without a decision. Reload the page and choose one.",
            ))
        }
    };
    match url {
        Some(url) => Ok(redirect(StatusCode::FOUND, &url, &[])),
        // Not verified (yet), decided already, or expired meanwhile.
        None => Err(cli::expired()),
    }
}

/// The person deciding, as the audit log names them.
fn actor(ctx: &Ctx, user_id: Option<&str>) -> Actor {
    let subject = user_id
        .and_then(|id| ctx.team.cache.user(id).ok().flatten())
        .map(|u| u.subject);
    Actor {
        name: format!("user:{}", subject.as_deref().unwrap_or("?")),
        user_id: user_id.map(str::to_owned),
        ip: ctx.ip_text(),
    }
}
