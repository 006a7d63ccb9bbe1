//! Several Kiro accounts behind one upstream: the [`AccountPool`] holds one [`Auth`] per enabled
//! account of the registry (`data_dir/credentials.json`), and a [`scheduler::Scheduler`] picks
//! the account per request (sticky per Claude Code session, failover with cooldowns, back to a
//! session's first account when its cooldown ends). [`state`] persists the scheduler,
//! [`usage`] queries getUsageLimits. With one account the pool is a pass-through: no cooldowns,
//! no state file, exactly the single-account behaviour.

pub mod state;
pub mod usage;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use conduit_core::{Error, Event, EventStream, FailoverCause};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::auth::registry::{AccountEntry, Registry};
use crate::auth::{format_time, Auth, Token};
use crate::client::{BodyStream, CallContext, KiroClient};
use crate::config::{ConfigError, KiroConfig};
pub use conduit_upstream::clock::{self, Clock, ManualClock, SystemClock};
pub use conduit_upstream::scheduler::{self, AccountState};
use scheduler::{Reason, Scheduler, SchedulerConfig, Wording};
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
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = AccountsConfig::default();
        if let Some(v) = get("ACCOUNT_SYSTEM") {
            c.mode = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => AccountMode::On,
                "false" | "0" | "no" | "off" => AccountMode::Off,
                "auto" => AccountMode::Auto,
                _ => return Err(ConfigError::BadAccountMode(v)),
            };
        }
        let secs = |key: &str, into: &mut Duration| -> Result<(), ConfigError> {
            if let Some(v) = get(key) {
                *into = match v.parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 && s <= 366.0 * 86_400.0 => {
                        Duration::from_secs_f64(s)
                    }
                    _ => {
                        return Err(ConfigError::NotSeconds {
                            key: key.to_string(),
                            value: v,
                        })
                    }
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
        secs(
            "CONDUIT_ACCOUNT_RISK_COOLDOWN_SECS",
            &mut c.scheduler.risk_cooldown,
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
                    // The token file holds the account's ARN; a re-login replaces it there, so
                    // no copy of an older identity's ARN may override it.
                    c.profile_arn = None;
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
        let mut sched =
            Scheduler::new(config.accounts.scheduler.clone(), ids).with_wording(kiro_wording());
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

    /// The account for the next try of a request, or `None` when none is left. A suspended or
    /// risk-limited account is never tried, even when it is the only one.
    pub fn pick(&self, session: Option<&str>, tried: &[usize]) -> Option<usize> {
        self.lift_suspensions();
        let now = self.clock.now();
        if !self.multi() {
            let blocked = self.sched().hard_blocked(0, now);
            return (!tried.contains(&0) && !blocked).then_some(0);
        }
        let (choice, dirty) = {
            let mut s = self.sched();
            let choice = s.pick(now, session, tried);
            (choice, s.is_dirty())
        };
        self.changed(dirty);
        choice
    }

    /// A suspended account whose credentials changed since (a new sign-in) is tried again.
    fn lift_suspensions(&self) {
        let suspended: Vec<(usize, Option<String>)> = {
            let s = self.sched();
            (0..self.accounts.len())
                .filter_map(|i| Some((i, s.suspended_with(i)?.map(str::to_string))))
                .collect()
        };
        for (i, seen) in suspended {
            let now = self.accounts[i].auth.fingerprint();
            if now.is_some() && now != seen {
                tracing::info!(account = %self.accounts[i].id, "the suspended account has new credentials; trying it again");
                self.sched().lift_suspension(i);
                self.changed(true);
            }
        }
    }

    /// A call on this account got its first event.
    pub fn succeeded(&self, index: usize) {
        let dirty = {
            let mut s = self.sched();
            s.succeeded(index);
            s.is_dirty()
        };
        self.changed(dirty);
    }

    /// A call on this account failed before its first event. Returns whether the request
    /// should be tried on another account.
    pub fn failed(&self, index: usize, cause: FailoverCause) -> bool {
        self.record_failure(index, cause, None)
    }

    /// [`AccountPool::failed`] keeping Kiro's words for `status`. Risk control and suspension
    /// are recorded even with one account (it is then not tried until they pass); the other
    /// causes cool an account down only when there are several.
    /// Errors without a [`FailoverCause`] never fail over.
    pub fn failed_call(&self, index: usize, error: &Error) -> bool {
        let Some(cause) = error.cause else {
            return false;
        };
        self.record_failure(index, cause, Some(error.message.clone()))
    }

    fn record_failure(&self, index: usize, cause: FailoverCause, detail: Option<String>) -> bool {
        let Some(reason) = Reason::of(cause) else {
            return false;
        };
        if !self.multi() && !reason.hard() {
            return false;
        }
        let fingerprint = (reason == Reason::Suspended)
            .then(|| self.accounts.get(index)?.auth.fingerprint())
            .flatten();
        let until = self
            .sched()
            .failed_with(index, reason, self.clock.now(), detail, fingerprint);
        let id = self
            .accounts
            .get(index)
            .map(|a| a.id.as_str())
            .unwrap_or("?");
        if reason == Reason::Suspended {
            tracing::error!(
                account = id,
                "Kiro suspended this account; conduit stops using it until it is signed in again"
            );
        } else {
            tracing::warn!(account = id, ?reason, until = %format_time(until), "Kiro account cooling down; failing over");
        }
        self.changed(true);
        self.multi()
    }

    /// The error when no account could take the request.
    pub fn exhausted(&self, last: Option<Error>) -> Error {
        if !self.multi() {
            if let Some(e) = last {
                return e;
            }
        }
        self.sched()
            .exhausted_error(self.clock.now(), last.as_ref())
    }

    /// Sends on the session's account, failing over to the next one on quota, risk control,
    /// suspension, throttling, 5xx or dead credentials (only before the first event; later
    /// errors travel in the stream). Returns the account used and the body.
    pub async fn send(
        &self,
        client: &KiroClient,
        session: Option<&str>,
        body_for: &(dyn Fn(&Token) -> Result<Bytes, Error> + Send + Sync),
        ctx: CallContext,
    ) -> Result<(usize, BodyStream), Error> {
        let mut tried = Vec::new();
        let mut last = None;
        while let Some(index) = self.pick(session, &tried) {
            let Some(account) = self.account(index) else {
                break;
            };
            match client.generate(&account.auth, body_for, ctx).await {
                Ok(body) => {
                    self.succeeded(index);
                    return Ok((index, body));
                }
                Err(error) => {
                    if !self.failed_call(index, &error) {
                        return Err(error);
                    }
                    tried.push(index);
                    last = Some(error);
                }
            }
        }
        Err(self.exhausted(last))
    }

    /// Passes `events` through, adding the credits each response reports (`meteringEvent`s,
    /// in [`conduit_core::Usage::credits`]) to the account's total.
    pub fn meter(&self, index: usize, events: EventStream) -> EventStream {
        let scheduler = Arc::clone(&self.scheduler);
        let notify = self.persister.as_ref().map(Persister::notifier);
        Box::pin(events.inspect(move |item| {
            if let Ok(Event::MessageEnd { usage, .. }) = item {
                if let Some(credits) = usage.credits {
                    scheduler
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .add_credits(index, credits);
                    if let Some(n) = &notify {
                        n.notify_one();
                    }
                }
            }
        }))
    }

    /// The account's state, why, and the credits it used.
    pub fn account_state(&self, index: usize) -> (AccountState, Option<String>, f64) {
        let now = self.clock.now();
        let s = self.sched();
        let (mut state, mut reason) = s.state(index, now);
        let credits = s.health(index).map_or(0.0, |h| h.credits_used);
        drop(s);
        if let Some(a) = self.accounts.get(index) {
            (state, reason) = disabled_if_dead(state, reason, &a.auth.status());
        }
        (state, reason, credits)
    }

    /// Writes `state.json` now if anything is unsaved.
    pub fn flush(&self) {
        if let Some(p) = &self.persister {
            p.flush();
        }
    }

    /// Per-account health for `/health` (no secrets). Healthy = at least one account usable.
    /// Several accounts: `{"accounts":[{"id","label","kind","healthy","state","reason",
    /// "cooldown_until","credits_used","credential"}]}`. One account: its
    /// [`crate::auth::CredentialStatus`] with `state`, `reason`, `credits_used` and `kind` added
    /// (the single-account shape `/health` always had).
    pub fn status(&self) -> (bool, Value) {
        if !self.multi() {
            let cred = self.accounts[0].auth.status();
            let (state, reason, credits) = self.account_state(0);
            let mut detail = serde_json::to_value(&cred).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut detail {
                m.insert("state".into(), json!(state));
                m.insert("reason".into(), json!(reason));
                m.insert("credits_used".into(), json!(credits));
                m.insert("kind".into(), json!(cred.account_kind));
            }
            return (cred.healthy && state == AccountState::Active, detail);
        }
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
                let (state, why) = s.state(i, now);
                let (state, why) = disabled_if_dead(state, why, &cred);
                let healthy = cred.healthy && state == AccountState::Active;
                any |= healthy;
                json!({
                    "id": a.id,
                    "label": a.label,
                    "kind": cred.account_kind,
                    "healthy": healthy,
                    "state": state,
                    "reason": why,
                    "cooldown_until": cooling.map(format_time),
                    "credits_used": s.health(i).map_or(0.0, |h| h.credits_used),
                    "credential": cred,
                })
            })
            .collect();
        (any, json!({ "accounts": list }))
    }

    /// Every account's usage and limits (getUsageLimits), queried concurrently with a timeout.
    pub async fn usage(&self, http: &reqwest::Client) -> Value {
        // Suspended accounts are asked too: Kiro still answers their usage query, and it never
        // lifts a suspension (only a new sign-in does).
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
                let (state, why) = s.state(i, now);
                let (state, why) = disabled_if_dead(state, why, &cred);
                let mut entry = json!({
                    "id": a.id,
                    "label": a.label,
                    "kind": cred.account_kind,
                    "profile_arn": cred.profile_arn,
                    "healthy": cred.healthy && state == AccountState::Active,
                    "state": state,
                    "reason": why,
                    "cooldown_until": cooling.map(format_time),
                    "credits_used": s.health(i).map_or(0.0, |h| h.credits_used),
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

/// How Kiro's accounts are named in messages.
fn kiro_wording() -> Wording {
    Wording {
        upstream: "Kiro".into(),
        one_unavailable: "the Kiro account is unavailable".into(),
        many: "Kiro accounts".into(),
        advice: "Wait, or add an account with `conduit login`.".into(),
    }
}

/// An otherwise active account whose credentials are dead is `disabled`.
fn disabled_if_dead(
    state: AccountState,
    why: Option<String>,
    cred: &crate::auth::CredentialStatus,
) -> (AccountState, Option<String>) {
    if !cred.healthy && state == AccountState::Active {
        let why = cred
            .last_error
            .clone()
            .unwrap_or_else(|| "no usable credentials: run `conduit login`".into());
        return (AccountState::Disabled, Some(why));
    }
    (state, why)
}
