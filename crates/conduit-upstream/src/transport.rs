//! The one outbound HTTP client builder: rustls, TCP_NODELAY, a keep-alive pool. Every
//! upstream builds its client here so connection behaviour is the same everywhere.

use std::time::Duration;

use conduit_core::Error;

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
