//! The one outbound HTTP client builder (rustls, TCP_NODELAY, a keep-alive pool), and how a
//! failed connection and an error body are read. Every upstream builds its client here so
//! connection behaviour is the same everywhere.

use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use futures::StreamExt;

/// Timeouts of the outbound client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time allowed to open a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest silence allowed between two reads of a response body.
    pub read_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(300),
        }
    }
}

/// Builds an outbound HTTP client (rustls, TCP_NODELAY, keep-alive pool).
pub fn build_http(settings: &HttpSettings) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tcp_nodelay(true)
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(32)
        .tcp_keepalive(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::internal(format!("could not build the HTTP client: {e}")))
}

/// Error bodies longer than this are not read further.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The body of an error answer, at most 64 KiB of it, as text (10 s per chunk at most).
pub async fn read_error_body(response: reqwest::Response) -> String {
    let mut body = response.bytes_stream();
    let mut buf = Vec::new();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_secs(10), body.next()).await
    {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_ERROR_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A failed connection or read as the error model sees it: a timeout, or an overloaded
/// upstream; `what` names the peer, `hint` says what to check when it cannot be reached.
pub fn network_error(e: &reqwest::Error, what: &str, hint: &str) -> Error {
    if e.is_timeout() {
        Error::new(
            ErrorKind::Timeout,
            format!("{what} did not answer in time; try again"),
        )
    } else if e.is_connect() {
        Error::new(
            ErrorKind::Overloaded,
            format!("could not connect to {what}: {e}; {hint}"),
        )
    } else {
        Error::new(
            ErrorKind::Overloaded,
            format!("the connection to {what} failed: {e}"),
        )
    }
}
