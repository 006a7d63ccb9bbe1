//! The gateway's own authorization server: Claude Code's gateway sign-in (RFC 8628 device
//! flow, refresh with rotation, RFC 7009 revocation), the managed-settings push and the OTLP
//! sinks. (Issue 12 skeleton: H3 fills it in.)
#![allow(unused_variables, clippy::todo)]

use std::time::Duration;

use axum::Router;
use conduit_core::Error;
use conduit_store::Store;

use crate::state::AppState;

/// The claims of an access token the gateway signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: String,
    pub family_id: String,
    pub expires_at: i64,
}

/// Signs and checks the gateway's access tokens with the store's signing keys.
pub struct Signer {}

impl Signer {
    pub async fn load(
        store: &Store,
        rotate_after: Duration,
        access_ttl: Duration,
    ) -> Result<Signer, Error> {
        Ok(Signer {})
    }

    pub fn owns(&self, kid: &str) -> bool {
        false
    }

    pub fn sign(&self, user_id: &str, family_id: &str) -> Result<(String, i64), Error> {
        todo!()
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        todo!()
    }

    pub async fn reload(&self, store: &Store) -> Result<(), Error> {
        Ok(())
    }
}

/// `/.well-known/oauth-authorization-server`, `/oauth/*`, `/managed/settings`,
/// `/admin/managed-settings`.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// `/v1/metrics`, `/v1/logs`, `/v1/traces`, mounted behind the `/v1` guard.
pub fn otlp_routes() -> Router<AppState> {
    Router::new()
}
