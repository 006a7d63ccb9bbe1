//! The team API (`/auth/*`, `/admin/*`, `/me/*`). Placeholder mounted by H-core until H-api's
//! router lands: it serves nothing yet.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
