//! Which rate limits apply: the `rate_limits` rows in memory, swapped whole on every reload
//! (every 2 s by an owned task, and at once after an admin write on this instance). A limit of
//! zero or less counts as none. A key's own `rate_limit_rpm` travels on its `Principal`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use conduit_store::{RateLimit, RateScope, Store, StoreError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One scope's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub max_streams: Option<i64>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.max_streams.is_some()
    }
}

/// Every scope's limits.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    keys: HashMap<String, Limits>,
    users: HashMap<String, Limits>,
    teams: HashMap<String, Limits>,
}

impl RuleSet {
    pub fn from_rows(rows: &[RateLimit]) -> RuleSet {
        let mut set = RuleSet::default();
        let positive = |v: Option<i64>| v.filter(|v| *v > 0);
        for row in rows {
            let limits = Limits {
                rpm: positive(row.rpm),
                tpm: positive(row.tpm),
                max_streams: positive(row.max_streams),
            };
            if limits.any() {
                set.map_mut(row.scope_type)
                    .insert(row.scope_id.clone(), limits);
            }
        }
        set
    }

    /// The limits of `id` in `scope` (none when it has none).
    pub fn get(&self, scope: RateScope, id: &str) -> Limits {
        self.map(scope).get(id).copied().unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.users.is_empty() && self.teams.is_empty()
    }

    fn map(&self, scope: RateScope) -> &HashMap<String, Limits> {
        match scope {
            RateScope::Key => &self.keys,
            RateScope::User => &self.users,
            RateScope::Team => &self.teams,
        }
    }

    fn map_mut(&mut self, scope: RateScope) -> &mut HashMap<String, Limits> {
        match scope {
            RateScope::Key => &mut self.keys,
            RateScope::User => &mut self.users,
            RateScope::Team => &mut self.teams,
        }
    }
}

/// The rules in force, and the store they are loaded from (none: no rules table).
pub struct Rules {
    set: RwLock<Arc<RuleSet>>,
    /// `set.is_empty()`, read without the lock on the hot path.
    empty: AtomicBool,
    store: Option<Store>,
}

impl Rules {
    pub fn new(store: Option<Store>) -> Rules {
        Rules {
            set: RwLock::new(Arc::new(RuleSet::default())),
            empty: AtomicBool::new(true),
            store,
        }
    }

    /// Whether no scope has a limit (one atomic load).
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<RuleSet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Put `set` in force.
    pub fn replace(&self, set: RuleSet) {
        let empty = set.is_empty();
        let mut slot = self.set.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(set);
        self.empty.store(empty, Ordering::Release);
    }

    /// Load the rules from the store (nothing to do without one).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let rows = store.list_rate_limits().await?;
        let set = RuleSet::from_rows(&rows);
        if *self.current() != set {
            self.replace(set);
        }
        Ok(())
    }

    /// The owned task that reloads the rules now and every `every` until `cancel`. A failed
    /// load keeps the rules in force (the counters' own fail mode covers an outage).
    pub fn spawn_refresh(
        self: Arc<Self>,
        every: Duration,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = self.reload().await {
                    tracing::debug!(error = %e, "reloading the rate limits failed; keeping the last ones");
                }
            }
        })
    }
}
