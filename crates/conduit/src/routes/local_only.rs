//! A guard for routes only the person at this machine may use (`/login`): the peer must be a
//! loopback address, and the `Host` header must name loopback (`127.0.0.1`, `localhost`,
//! `[::1]`) with a port this process listens on, so a web page whose DNS name was rebound to
//! 127.0.0.1 cannot reach it either; a request carrying `Origin` must come from the page
//! itself. Needs the router served with `ConnectInfo<SocketAddr>`. The Host rules here are
//! also the base of the guard on every route (`host.rs`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

static PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Records a port this process serves on (called by the server once bound).
pub fn allow_port(port: u16) {
    PORTS.lock().unwrap_or_else(|p| p.into_inner()).insert(port);
}

pub fn port_allowed(port: u16) -> bool {
    PORTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&port)
}

/// Why a request is refused, or `None` when it may pass.
pub fn refusal(peer: Option<SocketAddr>, host: Option<&str>) -> Option<&'static str> {
    match peer {
        Some(p) if p.ip().is_loopback() || p.ip().to_canonical().is_loopback() => {}
        Some(_) => return Some("this page is only served to this machine (loopback connections)"),
        None => return Some("the connection's address is unknown"),
    }
    loopback_host_refusal(host)
}

/// A Host header split into its lower-cased name and port: `[::1]:80` → (`[::1]`, `Some(80)`);
/// the port is `None` when absent or not a number.
pub fn split_host(host: &str) -> (String, Option<u16>) {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()),
        _ => (host, None),
    };
    (name.to_ascii_lowercase(), port)
}

/// `127.0.0.1`, `localhost` or `[::1]` (a Host name, lower-cased).
pub fn is_loopback_name(name: &str) -> bool {
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// Why a Host header does not name loopback with a port this process listens on.
pub fn loopback_host_refusal(host: Option<&str>) -> Option<&'static str> {
    let Some(host) = host else {
        return Some("a Host header is required");
    };
    let (name, port) = split_host(host);
    if !is_loopback_name(&name) {
        return Some("the Host header must be 127.0.0.1, localhost or [::1] (DNS rebinding guard)");
    }
    match port {
        Some(p) if port_allowed(p) => None,
        _ => Some("the Host header must carry the port conduit listens on"),
    }
}

/// A request a web page sent (it carries `Origin`) must come from the page we served: its
/// origin is `http://` + the Host it was sent to. Stops other sites from starting sign-ins.
fn foreign_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (None, _) => false,
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(&format!("http://{h}")),
        (Some(_), None) => true,
    }
}

/// Middleware: 403 with a plain explanation unless [`refusal`] lets the request pass.
pub async fn require_local(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?"));
    let why = refusal(peer, host).or_else(|| {
        foreign_origin(origin, host)
            .then_some("this page only answers requests from itself (Origin)")
    });
    match why {
        None => next.run(req).await,
        Some(why) => {
            tracing::warn!(peer = ?peer, reason = why, "refused a local-only request");
            (StatusCode::FORBIDDEN, format!("forbidden: {why}\n")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_with_a_loopback_host_and_our_port_pass() {
        allow_port(41234);
        let local: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        let v6: SocketAddr = "[::1]:50000".parse().unwrap();
        assert_eq!(refusal(Some(local), Some("127.0.0.1:41234")), None);
        assert_eq!(refusal(Some(local), Some("localhost:41234")), None);
        assert_eq!(refusal(Some(v6), Some("[::1]:41234")), None);
        assert!(refusal(Some(remote), Some("127.0.0.1:41234")).is_some());
        assert!(refusal(Some(local), Some("evil.example:41234")).is_some());
        assert!(refusal(Some(local), Some("127.0.0.1:9")).is_some());
        assert!(refusal(Some(local), Some("127.0.0.1")).is_some());
        assert!(refusal(Some(local), None).is_some());
        assert!(refusal(None, Some("127.0.0.1:41234")).is_some());
        assert!(refusal(Some(local), Some("LOCALHOST:41234")).is_none());
    }

    #[test]
    fn only_our_own_page_may_send_an_origin() {
        let host = Some("127.0.0.1:41234");
        assert!(!foreign_origin(None, host));
        assert!(!foreign_origin(Some("http://127.0.0.1:41234"), host));
        assert!(foreign_origin(Some("https://evil.example"), host));
        assert!(foreign_origin(Some("null"), host));
        assert!(foreign_origin(Some("http://127.0.0.1:41234"), None));
    }
}
