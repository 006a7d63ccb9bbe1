//! `GET /oauth/callback` (and `/auth/cli/callback`): where every identity-provider sign-in
//! comes back. The flow is taken by its `state` (once), must belong to this browser (login
//! CSRF), and only then is the code exchanged and the ID token checked; nothing is stored
//! before all of that passed. Then, by purpose: the portal cookie, the device confirm page,
//! or the command line's confirm page.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use conduit_store::FlowPurpose;
use serde::Deserialize;

use super::cookie::{self, SESSION};
use super::html::{redirect, Page};
use super::{cli, device, flow, Ctx};
use crate::team::signin;

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn bad(text: &str) -> Page {
    Page::notice(StatusCode::BAD_REQUEST, "Sign-in failed", text)
}

/// Up to 200 characters of what the IdP said.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// `GET /oauth/callback?code&state` (or `?error&error_description&state`).
pub async fn callback(mut ctx: Ctx, Query(q): Query<CallbackQuery>) -> Result<Response, Page> {
    if let Some(error) = q.error {
        let detail = q
            .error_description
            .map(|d| format!(": {}", clip(&d)))
            .unwrap_or_default();
        return Err(bad(&format!(
            "The identity provider did not sign you in ({}{detail}). Start again.",
            clip(&error)
        )));
    }
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return Err(bad("The sign-in answer has no state. Start again."));
    };
    let Some(flow) = flow::take(&ctx.team, &state).await? else {
        return Err(bad(
            "This sign-in is unknown, expired or already finished. Start again.",
        ));
    };
    if !ctx.browser.started_here(&flow.binding_digest) {
        return Err(Page::notice(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "This sign-in was started in another browser (login CSRF refused). Start again \
             here.",
        ));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return Err(bad("The sign-in answer has no code. Start again."));
    };
    let user = flow::finish(&ctx.team, &ctx.web.http, &flow, &code).await?;
    let target = flow.target.clone().unwrap_or_default();
    let (_, bind) = ctx.browser.bind();
    match flow.purpose {
        FlowPurpose::Cli => cli::verified(&ctx, &target, &user.id, bind).await,
        FlowPurpose::Portal | FlowPurpose::Device => {
            let idp = ctx.team.oidc.get(&flow.idp_id).map(|i| i.name);
            let via = format!("oidc:{}", idp.as_deref().unwrap_or(&flow.idp_id));
            let minted = signin::session(&ctx.team, &user, &via, ctx.ip_text().as_deref()).await?;
            let ttl = signin::ttl_secs(&ctx.team);
            let c = cookie::set(SESSION, &minted.secret, ttl, ctx.browser.secure());
            if flow.purpose == FlowPurpose::Portal {
                return Ok(redirect(StatusCode::SEE_OTHER, "/portal", &[c, bind]));
            }
            let page = device::confirm(&ctx, &target).cookie(bind).cookie(c);
            Ok(page.into_response())
        }
    }
}
