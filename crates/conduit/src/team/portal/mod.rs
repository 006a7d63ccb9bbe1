//! The portal's console (`/portal/*` after sign-in): server-rendered pages for keys, people,
//! teams, identity providers, budgets and limits, spend (SVG charts drawn here, CSV), the
//! audit log and "Connect Claude Code". The sign-in page itself and its forms are
//! `team/web/portal.rs`. Where things live:
//! - `view.rs`: who is looking (the session cookie, its idle clock, the role) and the one
//!   refusal page; every rule is checked here on the server, never only hidden in a page;
//! - `layout.rs`: the page frame (navigation by role) and its headers (a CSP that allows only
//!   this gateway's stylesheet and script);
//! - `assets.rs`: the stylesheet and the copy-button script, compiled in;
//! - `chart.rs`: SVG charts; one file per page for the rest.
//!
//! Writes go through the same functions as the admin API (`team/api`), so a form and a JSON
//! call are validated, audited and put in force alike.

pub mod assets;
mod audit;
mod budgets;
pub mod chart;
mod connect;
mod idle;
mod idps;
mod keys;
mod layout;
mod overview;
mod spend;
mod teams;
mod users;
mod view;

use axum::routing::{get, post};
use axum::Router;

pub use idle::Idle;
pub(crate) use overview::show as overview;
pub(crate) use view::Viewer;

use crate::state::AppState;

/// The console's routes (mounted by `team/web`, which adds the shared page state).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(assets::CSS_ROUTE, get(assets::css))
        .route(assets::JS_ROUTE, get(assets::js))
        .route("/portal/keys", get(keys::show).post(keys::create))
        .route("/portal/keys/{id}/revoke", post(keys::revoke))
        .route("/portal/users", get(users::show).post(users::create))
        .route("/portal/users/{id}", post(users::update))
        .route("/portal/users/{id}/active", post(users::set_active))
        .route("/portal/teams", get(teams::show).post(teams::create))
        .route("/portal/idps", get(idps::show).post(idps::create))
        .route("/portal/idps/test", post(idps::test))
        .route(
            "/portal/budgets",
            get(budgets::show).post(budgets::set_budget),
        )
        .route("/portal/budgets/{id}/delete", post(budgets::delete_budget))
        .route("/portal/limits", post(budgets::set_limit))
        .route(
            "/portal/limits/{scope}/{id}/delete",
            post(budgets::delete_rate_limit),
        )
        .route("/portal/spend", get(spend::show))
        .route("/portal/spend.csv", get(spend::csv))
        .route("/portal/audit", get(audit::show))
        .route("/portal/connect", get(connect::show))
}
