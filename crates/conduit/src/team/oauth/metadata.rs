//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /oauth/jwks.json`: what
//! Claude Code reads to find the device flow and `conduit token login` the authorization
//! endpoint, all on the gateway's own origin, never cached.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::wire::no_store;
use crate::state::TeamState;
use crate::team::origin::public_base;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The discovery document: the device flow (Claude Code) and the authorization code flow with
/// PKCE S256 (`conduit token login`, client `conduit-cli`), both ending in rotating refresh
/// tokens.
pub async fn metadata(team: TeamState, headers: HeaderMap) -> Response {
    let base = public_base(&team, &headers);
    no_store(
        StatusCode::OK,
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth/device_authorization"),
            "token_endpoint": format!("{base}/oauth/token"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "jwks_uri": format!("{base}/oauth/jwks.json"),
            "grant_types_supported": [DEVICE_CODE_GRANT, "authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": [super::signer::SCOPE],
        }),
    )
}

/// The public keys of the gateway's access tokens.
pub async fn jwks(team: TeamState) -> Response {
    no_store(StatusCode::OK, team.signer.jwks())
}
