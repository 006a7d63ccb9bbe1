//! `GET /metrics`: the Prometheus text format (`crate::metrics`), in personal and team mode.
//!
//! Who may read it: a caller on this machine (a loopback peer whose request was not forwarded
//! by a proxy: no `Forwarded`, `X-Forwarded-For` or `X-Real-IP`), or anyone presenting
//! `Authorization: Bearer $CONDUIT_METRICS_TOKEN` (compared in constant time). Without the
//! token configured, other callers get 404 as if the route did not exist; with it, a missing
//! or wrong token gets 401. Errors are in Anthropic's shape, like the rest of the gateway.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, ErrorKind};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::anthropic;

/// The environment variable holding the scrape token for callers not on this machine.
pub const TOKEN_ENV: &str = "CONDUIT_METRICS_TOKEN";

/// The token, read once (an empty value counts as unset).
fn configured_token() -> Option<&'static str> {
    static TOKEN: OnceLock<Option<String>> = OnceLock::new();
    TOKEN
        .get_or_init(|| std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()))
        .as_deref()
}

pub async fn metrics(req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match access(peer, req.headers(), configured_token()) {
        Access::Allowed => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            )],
            crate::metrics::render(),
        )
            .into_response(),
        Access::Hidden => anthropic::error_response(&Error::new(
            ErrorKind::NotFound,
            "no such endpoint: /metrics is served to this machine only (set \
             CONDUIT_METRICS_TOKEN to scrape it from elsewhere)",
        )),
        Access::BadToken => {
            tracing::warn!(peer = ?peer, "refused /metrics: missing or wrong bearer token");
            anthropic::error_response(&Error::new(
                ErrorKind::Authentication,
                "/metrics needs `Authorization: Bearer <CONDUIT_METRICS_TOKEN>` from another \
                 machine",
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Allowed,
    /// Not on this machine and no token configured: 404.
    Hidden,
    /// Not on this machine, and the token is missing or wrong: 401.
    BadToken,
}

/// Proxy headers: a loopback peer that sent one relays someone else's request.
const FORWARDED: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

pub(crate) fn access(peer: Option<SocketAddr>, headers: &HeaderMap, token: Option<&str>) -> Access {
    let loopback =
        peer.is_some_and(|p| p.ip().is_loopback() || p.ip().to_canonical().is_loopback());
    let forwarded = FORWARDED.iter().any(|h| headers.contains_key(*h));
    if loopback && !forwarded {
        return Access::Allowed;
    }
    let Some(token) = token else {
        return Access::Hidden;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(p) if same_secret(p, token) => Access::Allowed,
        _ => Access::BadToken,
    }
}

/// Constant time whatever the lengths: the digests are compared, not the strings.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Peer, request headers, configured token → the answer.
    type Case = (
        Option<SocketAddr>,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
        Access,
    );

    #[test]
    fn loopback_callers_or_the_token_holder_may_read() {
        let local: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let v6: SocketAddr = "[::1]:50000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:50000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        let tok = Some("s3cret-token");
        let cases: [Case; 12] = [
            (Some(local), &[], None, Access::Allowed),
            (Some(v6), &[], None, Access::Allowed),
            (Some(mapped), &[], None, Access::Allowed),
            (Some(local), &[], tok, Access::Allowed),
            (Some(remote), &[], None, Access::Hidden),
            (None, &[], None, Access::Hidden),
            // Through a proxy on this machine: not local.
            (
                Some(local),
                &[("x-forwarded-for", "192.0.2.7")],
                None,
                Access::Hidden,
            ),
            (
                Some(local),
                &[("forwarded", "for=192.0.2.7")],
                tok,
                Access::BadToken,
            ),
            (Some(remote), &[], tok, Access::BadToken),
            (
                Some(remote),
                &[("authorization", "Bearer wrong")],
                tok,
                Access::BadToken,
            ),
            (
                Some(remote),
                &[("authorization", "s3cret-token")],
                tok,
                Access::BadToken,
            ),
            (
                Some(remote),
                &[("authorization", "Bearer s3cret-token")],
                tok,
                Access::Allowed,
            ),
        ];
        for (peer, headers, token, expected) in cases {
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(*k, v.parse().unwrap());
            }
            assert_eq!(
                access(peer, &map, token),
                expected,
                "{peer:?} {headers:?} {token:?}"
            );
        }
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "abc"));
    }
}
