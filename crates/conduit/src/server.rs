//! Starting the gateway: logs, key, upstream, listener; and stopping it gracefully. Team mode
//! (`serve_team`) lives in `crate::team::serve` and shares the listener and signal handling.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::apikey::{self, ApiKey};
use crate::config::GatewayConfig;
use crate::state::{Access, AppState, OpenAiState, RelaySettings};
use crate::{routes, wiring};

/// `conduit serve --team` (see [`crate::team::serve`]).
pub use crate::team::serve::{serve_team, TeamOptions};

/// Run `conduit serve` until SIGINT/SIGTERM.
pub async fn serve(config: GatewayConfig) -> anyhow::Result<()> {
    crate::logging::init(&config.logs_dir()).map_err(|e| anyhow!(e))?;
    let key = match &config.api_key_override {
        Some(k) => k.clone(),
        None => apikey::load_or_create(&config.api_key_file()).map_err(|e| anyhow!(e))?,
    };
    let key = ApiKey::new(&key).map_err(|e| anyhow!(e))?;
    let state = app_state(&config, Access { key: Arc::new(key) }, None).await?;
    routes::host::configure(config.host, &config.allowed_hosts);
    let listener = bind(SocketAddr::new(config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    write_run_files(&config, addr.port())?;
    tracing::info!("conduit listening on http://{addr}");
    eprintln!("conduit listening on http://{addr}");

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    run(listener, state, shutdown, config.shutdown_grace).await;
    let _ = std::fs::remove_file(config.run_dir().join("port"));
    let _ = std::fs::remove_file(config.run_dir().join("pid"));
    Ok(())
}

/// The state both modes serve: the config file's upstreams wired as `wiring::wire` does, the
/// relay settings, and who may call (the personal key, or the team store).
pub async fn app_state(
    config: &GatewayConfig,
    access: Access,
    team: Option<crate::state::TeamState>,
) -> anyhow::Result<AppState> {
    let file = match &config.config_file {
        Some(path) => Some(crate::config::file::load(path)?),
        None => None,
    };
    let wired = wiring::wire(config, file.as_ref(), &|k| std::env::var(k).ok()).await?;
    Ok(AppState {
        upstreams: wired.upstreams,
        kiro: wired.kiro,
        relay: RelaySettings {
            debug_mode: config.debug_mode,
            ping_interval: config.ping_interval,
        },
        access,
        openai: OpenAiState::default(),
        team,
    })
}

/// Serve `state` on `listener` until `shutdown` fires, then let in-flight requests finish for
/// at most `grace`.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    grace: std::time::Duration,
) {
    let app = routes::router(state);
    if let Ok(addr) = listener.local_addr() {
        routes::local_only::allow_port(addr.port());
    }
    // Small SSE writes stall ~40 ms on delayed ACKs without TCP_NODELAY.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    serve_on(listener, app, shutdown, grace).await;
}

/// The serve loop both listeners share (plain TCP here, TLS in `crate::tls`): serve until
/// `shutdown` fires, then let in-flight requests finish for at most `grace`.
pub async fn serve_on<L>(
    listener: L,
    app: axum::Router,
    shutdown: CancellationToken,
    grace: std::time::Duration,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    SocketAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    crate::memory::tune_allocator();
    let trimmer = crate::memory::spawn_trimmer(shutdown.clone());
    let signal = shutdown.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        signal.cancelled().await;
    });
    let server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        result = server => {
            if let Err(e) = result {
                tracing::error!("server error: {e}");
            }
        }
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace period over; dropping remaining connections");
        }
    }
    trimmer.abort();
}

pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow!(
            "port {} on {} is already in use by another program: stop it, or choose another port \
             with --port or CONDUIT_PORT",
            addr.port(),
            addr.ip()
        )),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

pub(crate) fn write_run_files(config: &GatewayConfig, port: u16) -> anyhow::Result<()> {
    let run = config.run_dir();
    conduit_core::fsutil::write_private_atomic(&run.join("port"), format!("{port}\n").as_bytes())
        .with_context(|| format!("cannot write {}", run.join("port").display()))?;
    conduit_core::fsutil::write_private_atomic(
        &run.join("pid"),
        format!("{}\n", std::process::id()).as_bytes(),
    )
    .with_context(|| format!("cannot write {}", run.join("pid").display()))?;
    Ok(())
}

pub(crate) async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}
