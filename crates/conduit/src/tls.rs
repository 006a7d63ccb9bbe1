//! HTTPS for the team gateway: a PEM certificate chain and key → rustls `ServerConfig` (ring),
//! a listener that runs TLS handshakes off the accept loop, and [`run_tls`], `server::run`'s
//! twin for HTTPS. Also [`fingerprint_sha256`], the form Claude Code pins on first use.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use axum::serve::ListenerExt;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// Read `cert` (a PEM chain, leaf first) and `key` (PEM, PKCS#8, PKCS#1 or SEC1) into a rustls
/// server configuration with ALPN `http/1.1`. Every error names the file and what is wrong.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol version available")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            anyhow!(
                "TLS key {} does not go with certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
}

/// The certificates of a PEM file, leaf first.
pub fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("TLS certificate {} is not valid PEM: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(anyhow!(
            "TLS certificate {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => anyhow!(
            "TLS key {} holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
            path.display()
        ),
        e => anyhow!(
            "TLS key {} is not a valid PEM private key: {e}",
            path.display()
        ),
    })
}

/// The SHA-256 fingerprint of the first certificate in `cert_pem`: the colon-separated upper-case
/// form of `openssl x509 -noout -fingerprint -sha256`, and the first 16 lower-case hex digits
/// Claude Code shows when it first meets the gateway.
pub fn fingerprint_sha256(cert_pem: &str) -> anyhow::Result<(String, String)> {
    let der = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .next()
        .ok_or_else(|| anyhow!("no PEM certificate found"))?
        .map_err(|e| anyhow!("not a valid PEM certificate: {e}"))?;
    Ok(fingerprint_der(&der))
}

/// [`fingerprint_sha256`] of a DER certificate.
pub fn fingerprint_der(der: &[u8]) -> (String, String) {
    let digest = Sha256::digest(der);
    let colon = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let short = hex::encode(&digest[..8]);
    (colon, short)
}

/// Accepts TCP connections (TCP_NODELAY on each), runs their TLS handshakes in their own tasks
/// (a slow or broken client never holds up the others; each gets [`HANDSHAKE_TIMEOUT`]) and
/// hands finished streams to `axum::serve`. Dropping it stops the accept loop.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    stop: CancellationToken,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: ServerConfig) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let stop = CancellationToken::new();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        tokio::spawn(accept_loop(listener, acceptor, tx, stop.clone()));
        Ok(Self { ready, local, stop })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin (as axum does).
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small SSE writes stall ~40 ms on delayed ACKs without TCP_NODELAY.
        let _ = tcp.set_nodelay(true);
        let (acceptor, ready, stop) = (acceptor.clone(), ready.clone(), stop.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            let tls = tokio::select! {
                () = stop.cancelled() => return,
                r = handshake => r,
            };
            match tls {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Serve `app` over HTTPS on `listener` with `cert`/`key` until `shutdown` fires, then let
/// in-flight requests finish for at most `grace` (as `server::run` does for plain HTTP).
/// Handlers still get `ConnectInfo<SocketAddr>`. Fails before serving when the certificate or
/// key cannot be used.
pub async fn run_tls(
    listener: TcpListener,
    app: axum::Router,
    cert: &Path,
    key: &Path,
    shutdown: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    let config = server_config(cert, key)?;
    if let Ok(addr) = listener.local_addr() {
        crate::routes::local_only::allow_port(addr.port());
    }
    // `tap_io` gives the listener axum's `ConnectInfo<SocketAddr>` support.
    let listener = TlsListener::new(listener, config)?.tap_io(|_| {});
    crate::server::serve_on(listener, app, shutdown, grace).await;
    Ok(())
}
