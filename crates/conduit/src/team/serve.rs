//! `conduit serve --team`: open and migrate the store, bootstrap the admin, wire the upstreams
//! exactly as personal mode does, load every credential into the cache, start the sync task,
//! and serve (HTTPS with `--tls-cert`/`--tls-key`) until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use conduit_store::{Engine, Store};
use tokio_util::sync::CancellationToken;

use super::cache::AuthCache;
use super::limit::Limiter;
use super::oauth::Signer;
use super::oidc::Registry;
use super::{bootstrap, sync};
use crate::apikey::ApiKey;
use crate::config::team::TeamConfig;
use crate::config::GatewayConfig;
use crate::state::{Access, TeamSettings, TeamState};
use crate::{routes, server};

/// How team mode serves beyond the gateway's config.
#[derive(Debug, Clone, Default)]
pub struct TeamOptions {
    /// `--tls-cert`, `--tls-key` (PEM): serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Open the team store: `DATABASE_URL`, else SQLite at `$CONDUIT_HOME/data/team.db`. Does not
/// migrate. Errors say which store and what to do.
pub async fn open_store(config: &GatewayConfig, team: &TeamConfig) -> anyhow::Result<Store> {
    match &team.database_url {
        Some(url) => Store::open(url).await.map_err(|e| {
            anyhow!("cannot open the team store at DATABASE_URL: {e} (is the database running and the URL right?)")
        }),
        None => {
            let path = config.data_dir().join("team.db");
            Store::open_sqlite(&path)
                .await
                .with_context(|| format!("cannot open the team store {}", path.display()))
        }
    }
}

/// Run `conduit serve --team` until SIGINT/SIGTERM.
pub async fn serve_team(config: GatewayConfig, opts: TeamOptions) -> anyhow::Result<()> {
    crate::logging::init(&config.logs_dir()).map_err(|e| anyhow!(e))?;
    let team_config =
        crate::config::team::from_env(&|k| std::env::var(k).ok()).map_err(|e| anyhow!(e))?;
    let store = open_store(&config, &team_config).await?;
    store
        .migrate()
        .await
        .context("cannot apply the team store's migrations")?;
    let admin_password = std::env::var("CONDUIT_ADMIN_PASSWORD").ok();
    bootstrap::on_serve(&store, admin_password.as_deref()).await?;

    let mut team = team_state(store.clone(), &team_config).await?;
    team.settings.tls = opts.tls.is_some();
    let (keys, users) = team.cache.len();
    let state = server::app_state(&config, unused_personal_key()?, Some(team.clone())).await?;
    let mut allowed = config.allowed_hosts.clone();
    allowed.extend(team_config.public_hosts.iter().cloned());
    routes::host::configure(config.host, &allowed);

    let listener = server::bind(SocketAddr::new(config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    server::write_run_files(&config, addr.port())?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let engine = match store.engine() {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "Postgres",
    };
    tracing::info!(
        keys,
        users,
        "conduit team gateway listening on {scheme}://{addr} ({engine} store)"
    );
    eprintln!("conduit team gateway listening on {scheme}://{addr} ({engine} store)");

    let syncing = CancellationToken::new();
    let sync_task = sync::spawn(store.clone(), team.cache.clone(), syncing.clone());
    let idp_task = sync::spawn_idps(
        store.clone(),
        team.cache.clone(),
        team.oidc.clone(),
        syncing.clone(),
    );
    let signer_task = team
        .signer
        .clone()
        .spawn_reload(store.clone(), syncing.clone());
    let spend = team.spend.clone();
    let ledger_task = super::spend::ledger::spawn(
        spend.ledger.clone(),
        spend.totals.clone(),
        store.clone(),
        spend.config.flush_interval,
        syncing.clone(),
    );
    let refresh_task = super::spend::refresh::spawn(spend.clone(), store.clone(), syncing.clone());
    let notice_task = spend.take_notices().map(|rx| {
        super::spend::notify::spawn(
            rx,
            store.clone(),
            spend.config.webhook_url.clone(),
            syncing.clone(),
        )
    });
    let shutdown = CancellationToken::new();
    tokio::spawn(server::wait_for_signal(shutdown.clone()));
    let served = match &opts.tls {
        Some((cert, key)) => {
            let app = routes::router(state);
            crate::tls::run_tls(listener, app, cert, key, shutdown, config.shutdown_grace).await
        }
        None => {
            server::run(listener, state, shutdown, config.shutdown_grace).await;
            Ok(())
        }
    };
    // In-flight requests are done: stop syncing (a last flush of uses), then close the store.
    syncing.cancel();
    sync::join(sync_task).await;
    sync::join(idp_task).await;
    sync::join(signer_task).await;
    sync::join(refresh_task).await;
    if let Some(task) = notice_task {
        sync::join(task).await;
    }
    // Every request has ended: the writer writes the rows still waiting, then stops.
    if tokio::time::timeout(std::time::Duration::from_secs(30), ledger_task)
        .await
        .is_err()
    {
        tracing::error!("the spend ledger writer did not finish within 30 s");
    }
    team.limiter.shutdown().await;
    store.close().await;
    let _ = std::fs::remove_file(config.run_dir().join("port"));
    let _ = std::fs::remove_file(config.run_dir().join("pid"));
    served
}

/// The team part of the state, its cache loaded with every credential and user.
pub async fn team_state(store: Store, team_config: &TeamConfig) -> anyhow::Result<TeamState> {
    let cache = Arc::new(AuthCache::new());
    cache
        .sync_now(&store)
        .await
        .context("cannot load the credentials from the team store")?;
    let sso = &team_config.sso;
    let oidc = Arc::new(Registry::new(
        crate::team::oidc::http_client(),
        sso.env_idp.clone(),
        sso.clock_skew,
        sso.jwks_refresh,
    ));
    oidc.load(&store)
        .await
        .map_err(|e| anyhow!("cannot load the identity providers: {}", e.message))?;
    // Change sets reach the registry from now on (also where no sync task runs: tests).
    cache.follow_idps(oidc.clone());
    let signer = Signer::load(&store, sso.signing_rotate, sso.access_ttl)
        .await
        .map_err(|e| anyhow!("cannot load the token signing keys: {}", e.message))?;
    let spend =
        Arc::new(super::spend::Spend::new(team_config.spend.clone()).map_err(|e| anyhow!(e))?);
    spend
        .reload(&store)
        .await
        .map_err(|e| anyhow!("cannot load the spend limits and prices: {}", e.message))?;
    if let Err(e) = super::spend::refresh::refresh_totals(&spend, &store).await {
        tracing::warn!(error = %e.message, "cannot read the spend totals yet");
    }
    Ok(TeamState {
        limiter: Arc::new(
            Limiter::from_config(
                &store,
                team_config.redis_url.as_deref(),
                team_config.limits_fail_open,
            )
            .await
            .map_err(|e| anyhow!("cannot start the rate limiter: {}", e.message))?,
        ),
        store,
        cache,
        oidc,
        signer: Arc::new(signer),
        spend,
        settings: TeamSettings {
            session_ttl: team_config.session_ttl,
            portal_idle: team_config.portal_idle,
            tls: false,
            public_url: team_config.public_url.clone(),
            access_ttl: sso.access_ttl,
            refresh_ttl: sso.refresh_ttl,
        },
    })
}

/// Team mode has no key file: personal mode's guard is not mounted, and its key is a random
/// value nobody knows.
fn unused_personal_key() -> anyhow::Result<Access> {
    let random: [u8; 32] = rand::random();
    let key = ApiKey::new(&hex::encode(random)).map_err(|e| anyhow!(e))?;
    Ok(Access { key: Arc::new(key) })
}
