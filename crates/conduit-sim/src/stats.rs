//! Counters for leak checks (`GET /_sim/stats`): open TCP connections, service responses whose
//! body is still being sent, and refresh calls. Kept outside the state mutex and the request
//! log, so they stay exact however long a run is and whatever `log_limit` trims.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::serve::Listener;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    open_connections: AtomicUsize,
    accepted_connections: AtomicU64,
    active_responses: AtomicUsize,
    requests: AtomicU64,
    refresh_calls: AtomicU64,
}

/// What `GET /_sim/stats` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SimStats {
    /// TCP connections accepted and not yet closed.
    pub open_connections: usize,
    /// TCP connections accepted since start.
    pub accepted_connections: u64,
    /// Service responses (not `/_sim`) whose body is still being sent or is not yet dropped.
    pub active_responses: usize,
    /// Service requests received since start (not cleared by reset).
    pub requests: u64,
    /// `POST /refreshToken` and `POST /token` calls since start.
    pub refresh_calls: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> SimStats {
        SimStats {
            open_connections: self.open_connections.load(Ordering::SeqCst),
            accepted_connections: self.accepted_connections.load(Ordering::SeqCst),
            active_responses: self.active_responses.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            refresh_calls: self.refresh_calls.load(Ordering::SeqCst),
        }
    }

    /// Count a service request; `path` tells refresh calls apart.
    pub(crate) fn request(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if path == "/refreshToken" || path == "/token" || path.ends_with("/oauth2/v2.0/token") {
            self.refresh_calls.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A body that counts itself in `active_responses` until hyper drops it (sent, or the
/// connection went away).
pub(crate) struct CountedBody {
    inner: Body,
    stats: Arc<Stats>,
}

impl CountedBody {
    pub(crate) fn wrap(inner: Body, stats: Arc<Stats>) -> Body {
        stats.active_responses.fetch_add(1, Ordering::SeqCst);
        Body::new(CountedBody { inner, stats })
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        self.stats.active_responses.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A listener whose connections count themselves in `open_connections` until closed.
pub(crate) struct CountingListener<L> {
    pub inner: L,
    pub stats: Arc<Stats>,
}

impl<L: Listener> Listener for CountingListener<L> {
    type Io = CountedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        self.stats.open_connections.fetch_add(1, Ordering::SeqCst);
        self.stats
            .accepted_connections
            .fetch_add(1, Ordering::SeqCst);
        let io = CountedIo {
            inner: io,
            stats: self.stats.clone(),
        };
        (io, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One accepted connection; dropping it (closed by either side) uncounts it.
pub(crate) struct CountedIo<I> {
    inner: I,
    stats: Arc<Stats>,
}

impl<I> Drop for CountedIo<I> {
    fn drop(&mut self) {
        self.stats.open_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for CountedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for CountedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
