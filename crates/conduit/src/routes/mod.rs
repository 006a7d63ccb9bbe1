//! The HTTP surface: which path goes to which handler, the Host/Origin guard in front of every
//! route (`host.rs`) and the API-key guard in front of `/v1` (in team mode the store's keys and
//! sessions, `crate::team::guard`, and the team API).

pub(crate) mod anthropic;
pub(crate) mod guard;
mod health;
mod hello;
pub mod host;
pub mod local_only;
mod login;
mod metrics;
pub(crate) mod models;
pub(crate) mod openai;
pub(crate) mod turn;

pub use models::Dialect;
mod usage;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// Large enough for image-heavy Claude Code turns; the upstream limit is enforced later.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    match state.team.clone() {
        Some(team) => team_router(state, team),
        None => personal_router(state),
    }
}

/// The dialect endpoints every mode serves, behind no guard yet.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/models", get(models::models))
        .route("/v1/models/{id}", get(models::model))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(openai::responses))
}

/// Personal mode: the one key file guards `/v1`.
fn personal_router(state: AppState) -> Router {
    let kiro = state.kiro.0.is_some();
    let mut api = api_routes();
    // Kiro's account usage and sign-in page exist only when a Kiro upstream does.
    if kiro {
        api = api.route("/v1/usage", get(usage::usage));
    }
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        guard::require_key,
    ));
    let mut app = Router::new().merge(api);
    if kiro {
        app = app.merge(login::router());
    }
    app = app.route("/health", get(health::health));
    finish(app, state)
}

/// Team mode: the store's keys and sessions guard `/v1`; the team API, `/healthz` and
/// `/readyz` join. Kiro's `/v1/usage`, its sign-in page and `/health` (which show the
/// upstream accounts) stay personal-only: sign Kiro in on the server host with `conduit login`.
fn team_router(state: AppState, team: crate::state::TeamState) -> Router {
    let api = api_routes()
        .merge(crate::team::oauth::otlp_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            team,
            crate::team::guard::require_credential,
        ));
    // One password throttle for `/auth/login` and the portal's form: two doors, one count.
    let throttle = std::sync::Arc::new(crate::team::api::throttle::LoginThrottle::default());
    let app = Router::new()
        .merge(api)
        .merge(crate::team::api::router_with(throttle.clone()))
        .merge(crate::team::oauth::routes())
        .merge(crate::team::web::routes_with(throttle))
        .route("/healthz", get(crate::team::ready::healthz))
        .route("/readyz", get(crate::team::ready::readyz));
    finish(app, state)
}

fn finish(app: Router<AppState>, state: AppState) -> Router {
    // GET routes answer HEAD too (axum drops the body).
    app.route("/api/hello", get(hello::hello))
        .route("/metrics", get(metrics::metrics))
        .fallback(anthropic::not_found)
        // Outermost, so a foreign Host or a browser Origin is refused before anything else.
        .layer(axum::middleware::from_fn(host::require_host))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
