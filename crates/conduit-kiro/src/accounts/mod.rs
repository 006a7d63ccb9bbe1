//! Several Kiro accounts behind one upstream: the [`AccountPool`] holds one [`Auth`] per enabled
//! account of the registry (`data_dir/credentials.json`), and a [`scheduler::Scheduler`] picks
//! the account per request (sticky per Claude Code session, failover with cooldowns, back to a
//! session's first account when its cooldown ends). [`state`] persists the scheduler,
//! [`usage`] queries getUsageLimits. With one account the pool is a pass-through: no cooldowns,
//! no state file, exactly the single-account behaviour.

pub mod clock;
pub mod scheduler;
pub mod state;
pub mod usage;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conduit_core::Error;
use serde_json::{json, Value};

use crate::auth::registry::{AccountEntry, Registry};
use crate::auth::{format_time, Auth};
use crate::client::FailureCause;
use crate::config::KiroConfig;
pub use clock::{Clock, ManualClock, SystemClock};
use scheduler::{Reason, Scheduler, SchedulerConfig};
use state::Persister;

/// Whether several accounts are used (`ACCOUNT_SYSTEM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountMode {
    /// Unset: several accounts when the registry has more than one enabled account.
    #[default]
    Auto,
    /// `true`: the registry's enabled accounts, even just one.
    On,
    /// `false`: only the credentials `KiroConfig` resolves.
    Off,
}

/// The multi-account part of the Kiro configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountsConfig {
    pub mode: AccountMode,
    pub scheduler: SchedulerConfig,
}

impl AccountsConfig {
    /// Reads `ACCOUNT_SYSTEM` and `CONDUIT_ACCOUNT_*` through `get` (trimmed, non-empty values).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut c = AccountsConfig::default();
        if let Some(v) = get("ACCOUNT_SYSTEM") {
            c.mode = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => AccountMode::On,
                "false" | "0" | "no" | "off" => AccountMode::Off,
                "auto" => AccountMode::Auto,
                _ => return Err(format!("ACCOUNT_SYSTEM {v:?} must be true, false or auto")),
            };
        }
        let secs = |key: &str, into: &mut Duration| -> Result<(), String> {
            if let Some(v) = get(key) {
                *into = match v.parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 && s <= 366.0 * 86_400.0 => {
                        Duration::from_secs_f64(s)
                    }
                    _ => return Err(format!("{key} {v:?} must be a positive number of seconds")),
                };
            }
            Ok(())
        };
        secs(
            "CONDUIT_ACCOUNT_COOLDOWN_SECS",
            &mut c.scheduler.cooldown_base,
        )?;
        secs(
            "CONDUIT_ACCOUNT_COOLDOWN_MAX_SECS",
            &mut c.scheduler.cooldown_cap,
        )?;
        secs(
            "CONDUIT_ACCOUNT_QUOTA_COOLDOWN_SECS",
            &mut c.scheduler.quota_cooldown,
        )?;
        Ok(c)
    }
}

/// The registry's enabled accounts (a missing registry has none; an unreadable one is logged
/// and treated as empty, so the gateway still starts on its default credentials).
fn registry_accounts(data_dir: &Path) -> Vec<AccountEntry> {
    match Registry::load(data_dir) {
        Ok(r) => r.accounts.into_iter().filter(|a| a.enabled).collect(),
        Err(e) => {
            tracing::warn!("ignoring the account registry: {e}");
            Vec::new()
        }
    }
}

/// One account of the pool.
pub struct PoolAccount {
    pub id: String,
    pub label: String,
    pub config: Arc<KiroConfig>,
    pub auth: Auth,
}

/// The accounts requests can go to, and the scheduler choosing between them.
pub struct AccountPool {
    accounts: Vec<PoolAccount>,
    scheduler: Arc<Mutex<Scheduler>>,
    /// `None` with a single account: nothing to schedule or persist.
    persister: Option<Persister>,
    clock: Arc<dyn Clock>,
}

impl AccountPool {
    /// Builds the pool from the registry (per `config.accounts.mode`), or the one account
    /// `config` describes. Loads `state.json` when there are several accounts.
    pub fn new(config: &Arc<KiroConfig>, http: &reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        let entries = match config.accounts.mode {
            AccountMode::Off => Vec::new(),
            AccountMode::On => registry_accounts(&config.data_dir),
            AccountMode::Auto => {
                let e = registry_accounts(&config.data_dir);
                if e.len() > 1 {
                    e
                } else {
                    Vec::new()
                }
            }
        };
        let accounts: Vec<PoolAccount> = if entries.is_empty() {
            vec![PoolAccount {
                id: "default".into(),
                label: "default".into(),
                config: Arc::clone(config),
                auth: Auth::new(Arc::clone(config), http.clone()),
            }]
        } else {
            entries
                .into_iter()
                .map(|e| {
                    let mut c = (**config).clone();
                    c.creds_file = Some(e.token_file);
                    c.refresh_token = None;
                    c.profile_arn = e.profile_arn.filter(|a| !a.trim().is_empty());
                    let c = Arc::new(c);
                    PoolAccount {
                        label: if e.label.is_empty() {
                            e.id.clone()
                        } else {
                            e.label
                        },
                        id: e.id,
                        auth: Auth::new(Arc::clone(&c), http.clone()),
                        config: c,
                    }
                })
                .collect()
        };
        let ids = accounts.iter().map(|a| a.id.clone()).collect();
        let mut sched = Scheduler::new(config.accounts.scheduler.clone(), ids);
        let multi = accounts.len() > 1;
        let path = config.data_dir.join(state::STATE_FILE);
        if multi {
            let saved = state::load(&path);
            sched.restore(saved.accounts, saved.sessions, clock.now());
            tracing::info!(
                accounts = accounts.len(),
                "Kiro multi-account scheduling on"
            );
        }
        let scheduler = Arc::new(Mutex::new(sched));
        let persister = multi.then(|| Persister::start(path, Arc::clone(&scheduler)));
        Self {
            accounts,
            scheduler,
            persister,
            clock,
        }
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    pub fn account(&self, index: usize) -> Option<&PoolAccount> {
        self.accounts.get(index)
    }

    pub fn accounts(&self) -> &[PoolAccount] {
        &self.accounts
    }

    fn multi(&self) -> bool {
        self.persister.is_some()
    }

    fn sched(&self) -> MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, dirty: bool) {
        if let (true, Some(p)) = (dirty, &self.persister) {
            p.changed();
        }
    }

    /// The account for the next try of a request, or `None` when none is left.
    pub fn pick(&self, session: Option<&str>, tried: &[usize]) -> Option<usize> {
        if !self.multi() {
            return (!tried.contains(&0)).then_some(0);
        }
        let now = self.clock.now();
        let (choice, dirty) = {
            let mut s = self.sched();
            let choice = s.pick(now, session, tried);
            (choice, s.is_dirty())
        };
        self.changed(dirty);
        choice
    }

    /// A call on this account got its first event.
    pub fn succeeded(&self, index: usize) {
        if !self.multi() {
            return;
        }
        let dirty = {
            let mut s = self.sched();
            s.succeeded(index);
            s.is_dirty()
        };
        self.changed(dirty);
    }

    /// A call on this account failed before its first event. Returns whether the request
    /// should be tried on another account.
    pub fn failed(&self, index: usize, cause: FailureCause) -> bool {
        let Some(reason) = Reason::of(cause) else {
            return false;
        };
        if !self.multi() {
            return false;
        }
        let until = self.sched().failed(index, reason, self.clock.now());
        let id = self
            .accounts
            .get(index)
            .map(|a| a.id.as_str())
            .unwrap_or("?");
        tracing::warn!(account = id, ?reason, until = %format_time(until), "Kiro account cooling down; failing over");
        self.changed(true);
        true
    }

    /// The error when no account could take the request.
    pub fn exhausted(&self, last: Option<Error>) -> Error {
        if !self.multi() {
            return last.unwrap_or_else(|| Error::internal("no Kiro account configured"));
        }
        self.sched()
            .exhausted_error(self.clock.now(), last.as_ref())
    }

    /// Writes `state.json` now if anything is unsaved.
    pub fn flush(&self) {
        if let Some(p) = &self.persister {
            p.flush();
        }
    }

    /// Per-account health for `/health` (no secrets). Healthy = at least one account usable.
    pub fn status(&self) -> (bool, Value) {
        let now = self.clock.now();
        let s = self.sched();
        let mut any = false;
        let list: Vec<Value> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let cred = a.auth.status();
                let cooling = s.cooling_until(i, now);
                let healthy = cred.healthy && cooling.is_none();
                any |= healthy;
                json!({
                    "id": a.id,
                    "label": a.label,
                    "healthy": healthy,
                    "cooldown_until": cooling.map(format_time),
                    "reason": cooling.and(s.health(i).and_then(|h| h.reason)),
                    "credential": cred,
                })
            })
            .collect();
        (any, json!({ "accounts": list }))
    }

    /// Every account's usage and limits (getUsageLimits), queried concurrently with a timeout.
    pub async fn usage(&self, http: &reqwest::Client) -> Value {
        let queries = self.accounts.iter().map(|a| async move {
            let result =
                tokio::time::timeout(usage::USAGE_TIMEOUT, usage::fetch(http, &a.config, &a.auth))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::new(
                            conduit_core::ErrorKind::Timeout,
                            "Kiro did not answer the usage query in time",
                        ))
                    });
            result
        });
        let results = futures::future::join_all(queries).await;
        let now = self.clock.now();
        let mut s = self.sched();
        let mut dirty = false;
        let list: Vec<Value> = self
            .accounts
            .iter()
            .zip(results)
            .enumerate()
            .map(|(i, (a, result))| {
                let cooling = s.cooling_until(i, now);
                let cred = a.auth.status();
                let reason = cooling.and(s.health(i).and_then(|h| h.reason));
                let mut entry = json!({
                    "id": a.id,
                    "label": a.label,
                    "profile_arn": cred.profile_arn,
                    "healthy": cred.healthy && cooling.is_none(),
                    "cooldown_until": cooling.map(format_time),
                    "reason": reason,
                    "usage": Value::Null,
                });
                match result {
                    Ok(u) => {
                        if self.persister.is_some() {
                            s.set_next_reset(i, u.reset_time());
                            dirty |= s.is_dirty();
                        }
                        entry["usage"] = serde_json::to_value(&u).unwrap_or(Value::Null);
                    }
                    Err(e) => entry["error"] = Value::String(e.message),
                }
                entry
            })
            .collect();
        drop(s);
        self.changed(dirty);
        json!({ "accounts": list })
    }
}
