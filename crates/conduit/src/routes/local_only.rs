//! A guard for routes only the person at this machine may use (`/login`): the peer must be a
//! loopback address, and the `Host` header must name loopback (`127.0.0.1`, `localhost`,
//! `[::1]`) with a port this process listens on, so a web page whose DNS name was rebound to
//! 127.0.0.1 cannot reach it either. Needs the router served with `ConnectInfo<SocketAddr>`.

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

fn port_allowed(port: u16) -> bool {
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
    let Some(host) = host else {
        return Some("a Host header is required");
    };
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()),
        _ => (host, None),
    };
    let loopback = matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    );
    if !loopback {
        return Some("the Host header must be 127.0.0.1, localhost or [::1] (DNS rebinding guard)");
    }
    match port {
        Some(p) if port_allowed(p) => None,
        _ => Some("the Host header must carry the port conduit listens on"),
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
    match refusal(peer, host) {
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
    }
}
