//! The HTTP surface: which path goes to which handler, the Host/Origin guard in front of every
//! route (`host.rs`) and the API-key guard in front of `/v1`.

pub(crate) mod anthropic;
pub(crate) mod guard;
mod health;
mod hello;
pub mod host;
pub mod local_only;
mod login;
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
    let kiro = state.kiro.0.is_some();
    let mut api = Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/models", get(models::models))
        .route("/v1/models/{id}", get(models::model))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(openai::responses));
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
    app.route("/health", get(health::health))
        // GET routes answer HEAD too (axum drops the body).
        .route("/api/hello", get(hello::hello))
        .fallback(anthropic::not_found)
        // Outermost, so a foreign Host or a browser Origin is refused before anything else.
        .layer(axum::middleware::from_fn(host::require_host))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
