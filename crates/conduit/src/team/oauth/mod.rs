//! The gateway's own authorization server: Claude Code's gateway sign-in (RFC 8628 device
//! flow), `conduit token login`'s authorization code + PKCE (RFC 6749 §4.1, 7636, 8252), refresh
//! with rotation, RFC 7009 revocation, the managed-settings push and the OTLP sinks. Where
//! things live:
//! - `signer.rs`, `keys.rs`: the EdDSA access tokens and the shared signing keys;
//! - `metadata.rs`: the RFC 8414 document and the JWKS;
//! - `device.rs`, `token.rs`, `revoke.rs`: the device flow's endpoints, the code grant and
//!   refresh (`token.rs`);
//! - `authorize.rs`: the authorization request's checks and answer URLs (its pages are
//!   `team/web/authorize.rs`);
//! - `managed.rs`, `admin.rs`: `/managed/settings` and its admin API;
//! - `otlp.rs`: the telemetry sinks; `wire.rs`: OAuth errors (per-address limits are
//!   `team/iplimit.rs`).

mod admin;
pub mod authorize;
pub mod device;
pub mod keys;
pub mod managed;
mod metadata;
mod otlp;
mod revoke;
pub mod signer;
mod token;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};

pub use signer::Signer;

use crate::state::AppState;
use crate::team::iplimit::IpLimit;
use device::DeviceLimit;

/// The claims of an access token the gateway signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: String,
    pub family_id: String,
    pub expires_at: i64,
}

/// The built-in public client of `conduit token login` (no secret).
pub const CLI_CLIENT_ID: &str = "conduit-cli";

/// Form bodies of the OAuth endpoints are small.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// `/.well-known/oauth-authorization-server`, `/oauth/*`, `/managed/settings`,
/// `/admin/managed-settings`.
pub fn routes() -> Router<AppState> {
    let limit = DeviceLimit(IpLimit::new(30, Duration::from_secs(600)));
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .route("/oauth/jwks.json", get(metadata::jwks))
        .route("/oauth/device_authorization", post(device::authorize))
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(revoke::revoke))
        .route("/managed/settings", get(managed::settings))
        .route(
            "/admin/managed-settings",
            get(admin::get).put(admin::put).delete(admin::delete),
        )
        .layer(Extension(Arc::new(limit)))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// `/v1/metrics`, `/v1/logs`, `/v1/traces`, mounted behind the `/v1` guard.
pub fn otlp_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics", post(otlp::sink))
        .route("/v1/logs", post(otlp::sink))
        .route("/v1/traces", post(otlp::sink))
}
