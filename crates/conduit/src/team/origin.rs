//! The gateway's public origin, for redirect URIs and its sign-in metadata: the first
//! `CONDUIT_PUBLIC_URL` entry, else the request's own scheme and `Host` (which the host guard
//! has already vetted: loopback or a public name).

use axum::http::HeaderMap;

use crate::state::TeamState;

/// `https://gw.example.com` (no trailing `/`).
pub fn public_base(team: &TeamState, headers: &HeaderMap) -> String {
    if let Some(url) = &team.settings.public_url {
        return url.clone();
    }
    let scheme = if team.settings.tls { "https" } else { "http" };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    format!("{scheme}://{host}")
}
