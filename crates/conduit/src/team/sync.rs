//! The owned task that keeps the [`AuthCache`] current: it applies `changes_since` when
//! Postgres announces a write (LISTEN/NOTIFY) and every second anyway (both engines: the
//! backstop, and what keeps the cache fresh), and writes the recorded last uses every 5 s. It
//! runs until its cancellation token fires, then flushes once more. A second owned task
//! ([`spawn_idps`]) has the cache hand each change set's identity providers to the IdP
//! registry, fetches every IdP's key set again on the registry's refresh period, and deletes
//! ended sign-in rows every 5 minutes.

use std::sync::Arc;
use std::time::Duration;

use conduit_store::{ChangeListener, Engine, Store, StoreError};
use tokio::task::JoinHandle;
use tokio::time::{interval, interval_at, timeout, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::cache::AuthCache;
use super::oidc::Registry;

/// How often the version is polled.
pub const POLL: Duration = Duration::from_secs(1);
/// How often recorded uses are written.
pub const FLUSH: Duration = Duration::from_secs(5);
/// How long one store call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause before listening again after the notification connection dropped.
const RELISTEN_PAUSE: Duration = Duration::from_secs(1);

/// Start the task; keep the handle and await it after cancelling `cancel`.
pub fn spawn(store: Store, cache: Arc<AuthCache>, cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(run(store, cache, cancel))
}

async fn run(store: Store, cache: Arc<AuthCache>, cancel: CancellationToken) {
    let mut poll = interval(POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut flush = interval_at(Instant::now() + FLUSH, FLUSH);
    flush.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut listener: Option<ChangeListener> = None;
    let mut listen_at = (store.engine() == Engine::Postgres).then(Instant::now);
    let mut healthy = true;
    loop {
        if listen_at.is_some_and(|at| at <= Instant::now()) {
            match timeout(CALL_TIMEOUT, store.listen()).await {
                Ok(Ok(l)) => {
                    listener = l;
                    listen_at = None;
                }
                Ok(Err(e)) => {
                    tracing::debug!("cannot listen for team store changes: {e}");
                    listen_at = Some(Instant::now() + RELISTEN_PAUSE);
                }
                Err(_) => listen_at = Some(Instant::now() + RELISTEN_PAUSE),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            notice = next_notice(&mut listener) => match notice {
                Ok(version) if version <= cache.version() => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("team store notifications stopped: {e}; polling meanwhile");
                    listener = None;
                    listen_at = Some(Instant::now() + RELISTEN_PAUSE);
                    continue;
                }
            },
            _ = poll.tick() => {}
            _ = flush.tick() => {
                flush_uses(&store, &cache).await;
                continue;
            }
        }
        let synced = match timeout(CALL_TIMEOUT, cache.sync_now(&store)).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable("no answer within 2 s".into())),
        };
        match (synced, healthy) {
            (Ok(()), false) => {
                tracing::info!("the team store is reachable again: serving requests");
                healthy = true;
            }
            (Err(e), true) => {
                tracing::error!(
                    "cannot sync with the team store ({e}); requests are refused (503) once the \
                     last sync is {} s old",
                    super::cache::STALE_AFTER.as_secs()
                );
                healthy = false;
            }
            _ => {}
        }
    }
    flush_uses(&store, &cache).await;
}

/// Start the identity providers' task: from now on the cache's change sets update `registry`
/// (which reads the store once more, for rows written since it was loaded), and every key set
/// is fetched again each `registry.refresh_period()`. Keep the handle and [`join`] it after
/// cancelling `cancel`.
pub fn spawn_idps(
    store: Store,
    cache: Arc<AuthCache>,
    registry: Arc<Registry>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    cache.follow_idps(registry.clone());
    tokio::spawn(run_idps(store, registry, cancel))
}

async fn run_idps(store: Store, registry: Arc<Registry>, cancel: CancellationToken) {
    match timeout(CALL_TIMEOUT, registry.load(&store)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot reload the identity providers: {}", e.message),
        Err(_) => tracing::warn!("cannot reload the identity providers: no answer within 2 s"),
    }
    let period = registry.refresh_period();
    let mut refresh = interval_at(Instant::now() + period, period);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut prune = interval_at(Instant::now() + PRUNE, PRUNE);
    prune.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = refresh.tick() => registry.refresh_all().await,
            _ = prune.tick() => prune_sign_ins(&store).await,
        }
    }
}

/// How often ended sign-in rows (browser flows, device codes, command-line sign-ins, ended
/// token families) are deleted.
const PRUNE: Duration = Duration::from_secs(300);

async fn prune_sign_ins(store: &Store) {
    match timeout(CALL_TIMEOUT, store.prune_expired(super::wire::now())).await {
        Ok(Ok(n)) if n > 0 => tracing::debug!(rows = n, "pruned ended sign-in rows"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "pruning ended sign-in rows failed"),
        Err(_) => tracing::warn!("pruning ended sign-in rows: no answer within 2 s"),
    }
}

/// The next announced version, or never when there is no listener.
async fn next_notice(listener: &mut Option<ChangeListener>) -> Result<i64, StoreError> {
    match listener {
        Some(l) => l.recv().await,
        None => std::future::pending().await,
    }
}

/// Write the recorded last uses; on failure keep them for the next round.
async fn flush_uses(store: &Store, cache: &AuthCache) {
    let used = cache.take_uses();
    if used.is_empty() {
        return;
    }
    let written = match timeout(CALL_TIMEOUT, store.touch_credentials(&used)).await {
        Ok(r) => r,
        Err(_) => Err(StoreError::Unavailable("no answer within 2 s".into())),
    };
    if let Err(e) = written {
        tracing::debug!("cannot record last use of {} credentials: {e}", used.len());
        cache.restore_uses(used);
    }
}

/// Wait (bounded) for the task to end after its token was cancelled.
pub async fn join(handle: JoinHandle<()>) {
    if timeout(Duration::from_secs(5), handle).await.is_err() {
        tracing::warn!("the team sync task did not stop within 5 s");
    }
}
