//! The guard in front of every route. The Host header must name this gateway (loopback with
//! our port; the address given with `--host`; a name in `CONDUIT_ALLOWED_HOSTS`, or in team mode
//! a host of `CONDUIT_PUBLIC_URL`), so a web page
//! whose DNS name was rebound to this machine is refused. On the API (`/v1/*`), requests that
//! carry `Origin` are refused: browsers send it on cross-site requests, while Claude Code, the
//! SDKs and curl do not.

use std::net::IpAddr;
use std::sync::RwLock;

use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, ErrorKind};

use super::local_only::{self, split_host};
use super::models::Dialect;
use super::{anthropic, openai};

/// Which Host headers name this gateway besides loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    /// The listening address (`--host`).
    bind: IpAddr,
    /// `CONDUIT_ALLOWED_HOSTS` entries: name, and the port if the entry gave one.
    allowed: Vec<(String, Option<u16>)>,
}

/// `None` until [`configure`]: loopback names only.
static POLICY: RwLock<Option<Policy>> = RwLock::new(None);

/// Sets the rule for the process: called once by `conduit serve` with `--host` and
/// `CONDUIT_ALLOWED_HOSTS` (entries `name` or `name:port`, already validated by the config);
/// `serve --team` adds `CONDUIT_PUBLIC_URL`'s hosts (a name without a port matches any port).
pub fn configure(bind: IpAddr, allowed_hosts: &[String]) {
    let allowed = allowed_hosts.iter().map(|h| split_host(h)).collect();
    *POLICY.write().unwrap_or_else(|p| p.into_inner()) = Some(Policy { bind, allowed });
}

/// An IP-literal Host name (`10.0.0.5`, `[fd00::1]`) as an address.
fn ip_name(name: &str) -> Option<IpAddr> {
    name.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Why a Host header does not name this gateway, or `None` when it does.
pub fn refusal(host: Option<&str>) -> Option<&'static str> {
    let policy = POLICY.read().unwrap_or_else(|p| p.into_inner()).clone();
    refusal_by(host, policy.as_ref())
}

fn refusal_by(host: Option<&str>, policy: Option<&Policy>) -> Option<&'static str> {
    let Some(host) = host else {
        return Some("a Host header is required");
    };
    // Loopback with our port passes (no refusal: `None`); anything else is up to the policy.
    local_only::loopback_host_refusal(Some(host))?;
    let (name, port) = split_host(host);
    if let Some(policy) = policy {
        if policy
            .allowed
            .iter()
            .any(|(n, p)| *n == name && (p.is_none() || *p == port))
        {
            return None;
        }
        // An IP literal cannot be a rebound DNS name: the address we listen on (any address,
        // for 0.0.0.0 / ::) with our port is fine.
        let ours = |ip: IpAddr| policy.bind.is_unspecified() || ip == policy.bind;
        let port_ok = port.is_some_and(local_only::port_allowed);
        if port_ok && ip_name(&name).is_some_and(ours) {
            return None;
        }
    }
    Some(
        "the Host header does not name this gateway: use 127.0.0.1, localhost or [::1] with \
         its port, or add the name to CONDUIT_ALLOWED_HOSTS (DNS rebinding guard)",
    )
}

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Why a request is refused: a foreign Host anywhere, or a browser's `Origin` on the API.
fn refuse(path: &str, headers: &HeaderMap) -> Option<&'static str> {
    let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or(""));
    refusal(host).or_else(|| {
        (is_api(path) && headers.contains_key(header::ORIGIN)).then_some(
            "requests from web pages (with an Origin header) are refused: the API is for local \
             clients such as Claude Code, the SDKs and curl",
        )
    })
}

/// Middleware for the whole router; refusals on the API are errors in the client's dialect.
pub async fn require_host(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(why) = refuse(path, req.headers()) else {
        return next.run(req).await;
    };
    tracing::warn!(path, reason = why, "refused a request");
    if !is_api(path) {
        return (StatusCode::FORBIDDEN, format!("forbidden: {why}\n")).into_response();
    }
    let error = Error::new(ErrorKind::PermissionDenied, why);
    match Dialect::of(path, req.headers()) {
        Dialect::Anthropic => anthropic::error_response(&error),
        Dialect::OpenAi => openai::error_response(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rule() {
        local_only::allow_port(41235);
        let loopback_only = [
            ("127.0.0.1:41235", true),
            ("localhost:41235", true),
            ("[::1]:41235", true),
            ("127.0.0.1:41236", false),
            ("evil.example:41235", false),
            ("192.168.1.9:41235", false),
            ("", false),
        ];
        for (host, ok) in loopback_only {
            assert_eq!(refusal(Some(host)).is_none(), ok, "{host}");
        }
        assert!(refusal(None).is_some());
    }

    #[test]
    fn host_rule_beyond_loopback() {
        local_only::allow_port(41238);
        let policy = |bind: &str, allowed: &[&str]| Policy {
            bind: bind.parse().unwrap(),
            allowed: allowed.iter().map(|h| split_host(h)).collect(),
        };
        let proxy = policy("127.0.0.1", &["gw.example.com", "other.example:8443"]);
        let lan = policy("192.168.1.9", &[]);
        let any = policy("0.0.0.0", &[]);
        let v6 = policy("fd00::1", &[]);
        let cases = [
            (&proxy, "gw.example.com", true),
            (&proxy, "GW.example.com:443", true),
            (&proxy, "other.example:8443", true),
            (&proxy, "other.example:443", false),
            (&proxy, "evil.example:41238", false),
            (&proxy, "192.168.1.9:41238", false),
            (&lan, "192.168.1.9:41238", true),
            (&lan, "192.168.1.9:80", false),
            (&lan, "192.168.1.10:41238", false),
            (&lan, "localhost:41238", true),
            (&lan, "evil.example:41238", false),
            (&any, "10.1.2.3:41238", true),
            (&any, "evil.example:41238", false),
            (&v6, "[fd00::1]:41238", true),
            (&v6, "[fd00::2]:41238", false),
            (&policy("127.0.0.2", &[]), "127.0.0.2:41238", true),
        ];
        for (policy, host, ok) in cases {
            assert_eq!(
                refusal_by(Some(host), Some(policy)).is_none(),
                ok,
                "{host} with {policy:?}"
            );
        }
    }

    #[test]
    fn origin_is_refused_on_the_api_only() {
        local_only::allow_port(41237);
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:41237".parse().unwrap());
        assert_eq!(refuse("/v1/messages", &h), None);
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(refuse("/v1/messages", &h).is_some());
        assert!(refuse("/v1/chat/completions", &h).is_some());
        assert_eq!(refuse("/health", &h), None);
    }
}
