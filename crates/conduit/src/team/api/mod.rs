//! The team API (`/auth/*`, `/admin/*`, `/me/*`): thin handlers over the store, CCAG's shapes,
//! errors in Anthropic's envelope. Every write is audited by the store call itself and then
//! pulled into this instance's cache before the answer, so a revoked key is refused at once.

mod audit;
pub(crate) mod caller;
mod error;
pub(crate) mod idps;
mod json;
pub(crate) mod keys;
pub(crate) mod limits;
mod login;
mod me;
mod me_spend;
mod prices;
pub mod spend;
pub(crate) mod spend_limits;
mod spend_limits_wire;
pub(crate) mod teams;
pub mod throttle;
pub(crate) mod users;
pub(crate) mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use axum::{Extension, Router};

pub use error::{render, store_error, ApiError};
pub use json::MAX_BODY_BYTES;
// The extractors other team modules' admin routes use (`oauth::managed`, the pages).
pub(crate) use caller::{Admin, Reader};
pub(crate) use json::AdminJson;
use throttle::LoginThrottle;

use crate::state::{AppState, TeamState};

/// The team API with a login throttle on the system clock.
pub fn router() -> Router<AppState> {
    router_with(Arc::new(LoginThrottle::default()))
}

/// The team API with a given login throttle (tests move its clock).
pub fn router_with(throttle: Arc<LoginThrottle>) -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login::login))
        .route("/auth/logout", post(login::logout))
        .route("/auth/me", get(login::me))
        .route("/admin/keys", post(keys::create).get(keys::list))
        .route("/admin/keys/{id}/revoke", post(keys::revoke))
        .route("/me/keys", post(me::create).get(me::list))
        .route("/me/keys/{id}/revoke", post(me::revoke))
        .route("/me/spend", get(me_spend::spend))
        .route("/admin/users", post(users::create).get(users::list))
        .route(
            "/admin/users/{id}",
            patch(users::update).put(users::put_role),
        )
        .route("/admin/users/{id}/team", put(users::set_team))
        .route("/admin/teams", post(teams::create).get(teams::list))
        .route("/admin/audit", get(audit::list))
        .route("/admin/limits", get(limits::list))
        .route(
            "/admin/limits/{scope_type}/{scope_id}",
            put(limits::put).delete(limits::delete),
        )
        .route("/admin/spend", get(spend::report))
        .route("/admin/prices", get(prices::list))
        .route(
            "/admin/prices/{upstream}/{model}",
            get(prices::get_one).put(prices::put).delete(prices::delete),
        )
        .merge(spend_limits::routes())
        .route("/admin/idps", post(idps::create).get(idps::list))
        .route("/admin/idps/{id}", patch(idps::update).delete(idps::delete))
        .layer(Extension(throttle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Pull this instance's own write into its cache before answering. The write has happened
/// either way; should the pull fail, the sync task catches up (or the cache fails closed).
pub(crate) async fn sync(team: &TeamState) {
    if let Err(e) = team.cache.sync_now(&team.store).await {
        tracing::warn!(error = %e, "team cache sync after a write failed");
    }
}
