//! The command-line sign-in (`/auth/cli/*`, CCAG's shapes over a safer flow). The script makes
//! a verifier V and opens `/auth/cli/login?challenge=hex(SHA-256(V))`; the server makes the
//! session, binds it to this browser, signs the person in (portal session, else an IdP), and a
//! confirm page POSTs `/auth/cli/complete` from the same browser. The script polls
//! `/auth/cli/poll` with V; the session token is minted at the one read that finds it complete.
//! `/oauth/authorize` (`authorize.rs`) goes through the same sign-in ([`Who`], [`verified`]).

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conduit_store::{CliPoll, CliSession, CliStatus, FlowPurpose, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cookie::same;
use super::html::{escape, hidden, redirect, Page};
use super::{authorize, flow, Ctx};
use crate::team::oidc::IdpInfo;
use crate::team::wire::{digest, form, now};
use crate::team::{signin, Principal};

/// How long a pending command-line sign-in lives.
const PENDING_SECS: i64 = 300;
/// The header carrying the script's verifier.
const VERIFIER_HEADER: &str = "x-conduit-cli-verifier";

#[derive(Deserialize)]
pub struct LoginQuery {
    challenge: Option<String>,
}

fn is_challenge(c: &str) -> bool {
    c.len() == 64 && c.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `GET /auth/cli/login?challenge=<64 hex>`.
pub async fn login(mut ctx: Ctx, Query(q): Query<LoginQuery>) -> Result<Response, Page> {
    let challenge = q.challenge.unwrap_or_default();
    if !is_challenge(&challenge) {
        return Err(Page::notice(
            StatusCode::BAD_REQUEST,
            "Bad sign-in link",
            "This sign-in link is malformed. Run the command again.",
        ));
    }
    let who = Who::find(&ctx)?;
    ctx.admit_start()?;
    let (binding, bind) = ctx.browser.bind();
    let created = ctx
        .team
        .store
        .create_cli_session(&challenge, &digest(&binding), now() + PENDING_SECS)
        .await;
    let cli = match created {
        Ok(cli) => cli,
        Err(StoreError::Conflict(_)) => {
            return Err(Page::notice(
                StatusCode::BAD_REQUEST,
                "Link already used",
                "This sign-in link was already used. Run the command again.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    who.sign_in(&ctx, &cli.id, &binding, bind).await
}

/// How the person in this browser can sign in: as the portal session's user, else at one of
/// the identity providers.
pub struct Who {
    principal: Option<Principal>,
    idps: Vec<IdpInfo>,
}

impl Who {
    /// The page "sign in to the portal first" when neither is possible (before anything is
    /// stored).
    pub fn find(ctx: &Ctx) -> Result<Who, Page> {
        let principal = ctx.browser.session(&ctx.team)?;
        let idps = ctx.team.oidc.list();
        if principal.is_none() && idps.is_empty() {
            return Err(Page::sign_in_first("reload this page"));
        }
        Ok(Who { principal, idps })
    }

    /// Sign in for the stored CLI session `cli_id` (bound to `binding`): the confirm page at
    /// once with a portal session, else the one IdP, else the chooser.
    pub async fn sign_in(
        self,
        ctx: &Ctx,
        cli_id: &str,
        binding: &str,
        bind: String,
    ) -> Result<Response, Page> {
        if let Some(p) = self.principal {
            let user_id = p.user_id.unwrap_or_default();
            return verified(ctx, cli_id, &user_id, bind).await;
        }
        if let [idp] = self.idps.as_slice() {
            let url = start(ctx, cli_id, &idp.id, binding).await?;
            return Ok(redirect(StatusCode::FOUND, &url, &[bind]));
        }
        let mut body = String::from("<p>Sign in to connect your command line:</p>\n");
        for idp in &self.idps {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("session", cli_id)
                .append_pair("idp", &idp.id)
                .finish();
            body.push_str(&format!(
                "<p><a href=\"/auth/cli/sso?{}\">Sign in with {}</a></p>\n",
                escape(&q),
                escape(&idp.name)
            ));
        }
        Ok(Page::new(StatusCode::OK, "Choose how to sign in", body)
            .cookie(bind)
            .into_response())
    }
}

async fn start(ctx: &Ctx, cli_id: &str, idp_id: &str, binding: &str) -> Result<String, Page> {
    let s = flow::Start {
        purpose: FlowPurpose::Cli,
        idp_id,
        target: Some(cli_id.to_owned()),
        binding_digest: digest(binding),
        redirect_uri: ctx.redirect_uri(),
    };
    Ok(ctx.start_flow(s).await?)
}

#[derive(Deserialize)]
pub struct SsoQuery {
    session: String,
    idp: String,
}

/// `GET /auth/cli/sso?session&idp`: the chooser's buttons, for this browser's session only.
pub async fn sso(mut ctx: Ctx, Query(q): Query<SsoQuery>) -> Result<Response, Page> {
    let cli = ctx.team.store.cli_session(&q.session).await?;
    let ours = mine(&ctx, cli.as_ref()).map_err(|p| *p)?;
    if ours.status != CliStatus::Pending {
        return Err(expired());
    }
    let (binding, bind) = ctx.browser.bind();
    let url = start(&ctx, &ours.id, &q.idp, &binding).await?;
    Ok(redirect(StatusCode::FOUND, &url, &[bind]))
}

/// The session if it exists, is live and was started in this browser; else the page to show.
pub fn mine<'a>(ctx: &Ctx, cli: Option<&'a CliSession>) -> Result<&'a CliSession, Box<Page>> {
    let Some(cli) = cli.filter(|c| c.expires_at > now()) else {
        return Err(Box::new(expired()));
    };
    if !ctx.browser.started_here(&cli.binding_digest) {
        return Err(Box::new(Page::notice(
            StatusCode::FORBIDDEN,
            "Another browser",
            "This sign-in was started in another browser (login CSRF refused). Run the \
             command again and finish it in the browser it opens.",
        )));
    }
    Ok(cli)
}

pub fn expired() -> Page {
    Page::notice(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This command-line sign-in has expired or is unknown. Run the command again.",
    )
}

/// Record who signed in for CLI session `id`, then the confirm page (for an `/oauth/authorize`
/// request, its consent page).
pub async fn verified(ctx: &Ctx, id: &str, user_id: &str, bind: String) -> Result<Response, Page> {
    let verified = ctx
        .team
        .store
        .verify_cli_session(id, user_id, now())
        .await?;
    let Some(cli) = verified else {
        return Err(expired());
    };
    if let Some(request) = &cli.authorize {
        return Ok(authorize::consent(ctx, id, request)
            .cookie(bind)
            .into_response());
    }
    let body = format!(
        "<p>Connect the command line that opened this page to your account?</p>\n\
         <form method=\"post\" action=\"/auth/cli/complete\">{}{}\
         <button type=\"submit\">Connect</button></form>",
        hidden("csrf", &ctx.browser.csrf()),
        hidden("session", id)
    );
    let page = Page::new(StatusCode::OK, "Connect your command line?", body).cookie(bind);
    Ok(page.into_response())
}

/// `POST /auth/cli/complete` (session, csrf): only from the browser that started it.
pub async fn complete(ctx: Ctx, body: Bytes) -> Result<Response, Page> {
    let f = form(&body);
    ctx.browser.check_csrf(f.get("csrf").map(String::as_str))?;
    let id = f.get("session").cloned().unwrap_or_default();
    let cli = ctx.team.store.cli_session(&id).await?;
    mine(&ctx, cli.as_ref()).map_err(|p| *p)?;
    let binding = ctx.browser.binding_digest().unwrap_or_default();
    if !ctx
        .team
        .store
        .complete_cli_session(&id, &binding, now())
        .await?
    {
        return Err(expired());
    }
    let page = Page::notice(
        StatusCode::OK,
        "Command line connected",
        "You can return to your terminal.",
    );
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub struct PollQuery {
    challenge: Option<String>,
}

/// `GET /auth/cli/poll?challenge=C` with `x-conduit-cli-verifier: V`.
pub async fn poll(ctx: Ctx, headers: HeaderMap, Query(q): Query<PollQuery>) -> Response {
    let mut answer = match poll_status(&ctx, &headers, q.challenge.unwrap_or_default()).await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => crate::team::api::render(&e),
    };
    answer
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    answer
}

async fn poll_status(
    ctx: &Ctx,
    headers: &HeaderMap,
    challenge: String,
) -> Result<Value, conduit_core::Error> {
    let not_found = json!({"status": "not_found"});
    let verifier = headers
        .get(VERIFIER_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_challenge(&challenge) || verifier.is_empty() || !same(&digest(verifier), &challenge) {
        return Ok(not_found);
    }
    let polled = ctx.team.store.take_cli_session(&challenge, now()).await;
    let user_id = match polled.map_err(crate::team::api::store_error)? {
        CliPoll::Pending => return Ok(json!({"status": "pending"})),
        CliPoll::Expired => return Ok(json!({"status": "expired"})),
        CliPoll::NotFound => return Ok(not_found),
        CliPoll::Complete { user_id } => user_id,
    };
    let user = ctx.team.store.user(&user_id).await;
    let Some(user) = user
        .map_err(crate::team::api::store_error)?
        .filter(|u| u.active)
    else {
        return Ok(not_found);
    };
    let minted = signin::session(&ctx.team, &user, "cli", ctx.ip_text().as_deref()).await?;
    Ok(json!({
        "status": "complete",
        "token": minted.secret,
        "expires_at": minted.expires_at,
    }))
}
