//! Browser pages of team mode: the portal's sign-in, the one IdP callback, `/device`, the
//! command-line sign-in (`/auth/cli/*`) and the setup scripts. (Issue 12 skeleton: H4 fills it
//! in.)

use axum::Router;

use crate::state::AppState;

/// `/portal*`, `/oauth/callback`, `/auth/cli/*`, `/auth/setup*`, `/device*`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
