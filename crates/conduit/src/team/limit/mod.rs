//! Rate limits per key, user and team: requests per minute (RPM), tokens per minute (TPM) and
//! concurrent streams, counted across instances.
//!
//! - `rules.rs`: which limits apply (the `rate_limits` table plus a key's own
//!   `rate_limit_rpm`), in memory, refreshed every 2 s by an owned task and at once after an
//!   admin write on this instance;
//! - `local.rs`: the counts in memory (SQLite: one instance);
//! - `postgres.rs`: the counts in the store, one transaction an admission (Postgres);
//! - `redis.rs`: the counts in Redis, one script call an admission (`REDIS_URL`).
//!
//! RPM and TPM are sliding-window estimates over fixed minute windows:
//! `previous * (60 - elapsed) / 60 + current`. A request is admitted when, counting it, the
//! RPM estimate is at most the limit, the TPM estimate (tokens of requests that ended) is below
//! it, and a stream lease is free; it is then counted everywhere at once, or nowhere (a refused
//! request counts for nothing). Its [`Admission`] holds the leases until it is dropped, and
//! adds the tokens it recorded to the TPM windows then.
//!
//! When the shared counter cannot be reached, a rate-limited caller is refused with 503
//! (`LIMITS_FAIL_MODE=closed`, the default) or admitted uncounted with a warning (`open`): the
//! limits are never silently counted per instance. Callers without any limit pay nothing: no
//! store, no allocation.

mod local;
mod postgres;
mod redis;
pub mod rules;

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use conduit_store::{Engine, RateScope, Store};
use conduit_upstream::clock::{Clock, SystemClock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use rules::{Limits, RuleSet, Rules};

use super::Principal;

/// The length of a counting window, in seconds.
pub const WINDOW: i64 = 60;
/// How long a stream lease lives unless released (a crashed instance's leases run out).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15 * 60);
/// How often the rules are reloaded from the store.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// The Redis key prefix of `REDIS_URL`'s counters.
pub const DEFAULT_REDIS_PREFIX: &str = "conduit:limits:";
/// At most one fail-open warning (and one unreachable-counter log line) this often, seconds.
const WARN_EVERY: i64 = 10;

/// How a [`Limiter`] counts, beyond its store.
#[derive(Clone)]
pub struct Options {
    /// Count in Redis (`REDIS_URL`) instead of the store.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (tests use one per run).
    pub redis_prefix: String,
    /// `LIMITS_FAIL_MODE=open`: admit uncounted when the counter is unreachable.
    pub fail_open: bool,
    pub lease_ttl: Duration,
    pub refresh_every: Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            redis_url: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            fail_open: false,
            lease_ttl: DEFAULT_LEASE_TTL,
            refresh_every: REFRESH_EVERY,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Where the counts live.
enum Counter {
    Local(local::Local),
    Store(postgres::Shared),
    Redis(redis::Shared),
}

impl Counter {
    /// Count `plan` if every limit admits it; the refusal otherwise; `Err(detail)` when the
    /// counter cannot be reached.
    async fn admit(&self, plan: &Plan) -> Result<Option<Refusal>, String> {
        match self {
            Counter::Local(local) => Ok(local.admit(plan)),
            Counter::Store(store) => store.admit(plan).await,
            Counter::Redis(redis) => redis.admit(plan).await,
        }
    }

    /// What the counter is, for messages.
    fn what(&self) -> &'static str {
        match self {
            Counter::Local(_) => "memory",
            Counter::Store(_) => "the team store",
            Counter::Redis(_) => "Redis",
        }
    }
}

/// What an [`Admission`] shares with its limiter.
struct Shared {
    counter: Counter,
    clock: Arc<dyn Clock>,
}

impl Shared {
    fn now_ms(&self) -> i64 {
        let now = self.clock.now();
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    }
}

/// Admits requests under the rate limits of their key, user and team, or refuses them (429
/// with `retry-after`; 503 when the shared counter is unreachable and the mode is closed).
pub struct Limiter {
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    fail_open: bool,
    lease_ttl_ms: i64,
    /// Unix seconds of the last fail-open warning or unreachable-counter log line.
    last_warn: AtomicI64,
    refresh: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("counter", &self.shared.counter.what())
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    fn new(counter: Counter, rules: Rules, options: &Options) -> Limiter {
        Limiter {
            rules: Arc::new(rules),
            shared: Arc::new(Shared {
                counter,
                clock: options.clock.clone(),
            }),
            fail_open: options.fail_open,
            lease_ttl_ms: i64::try_from(options.lease_ttl.as_millis()).unwrap_or(i64::MAX),
            last_warn: AtomicI64::new(i64::MIN),
            refresh: Mutex::new(None),
        }
    }

    /// Counting in memory, from the keys' own `rate_limit_rpm` only (no rules table).
    pub fn local() -> Limiter {
        Limiter::new(
            Counter::Local(local::Local::default()),
            Rules::new(None),
            &Options::default(),
        )
    }

    /// In memory on SQLite, in the store on Postgres; fail closed; the rules loaded from
    /// `store` by the refresh task (started here when a Tokio runtime runs).
    pub fn for_store(store: &Store) -> Limiter {
        let options = Options::default();
        let limiter = Limiter::new(
            counter_for(store, &options),
            Rules::new(Some(store.clone())),
            &options,
        );
        if tokio::runtime::Handle::try_current().is_ok() {
            limiter.start_refresh(options.refresh_every);
        }
        limiter
    }

    /// As `conduit serve --team` configures it: Redis when `redis_url` is set, else as
    /// [`Limiter::for_store`]; `fail_open` from `LIMITS_FAIL_MODE`.
    pub async fn from_config(
        store: &Store,
        redis_url: Option<&str>,
        fail_open: bool,
    ) -> Result<Limiter, Error> {
        let options = Options {
            redis_url: redis_url.map(str::to_owned),
            fail_open,
            ..Options::default()
        };
        Limiter::with_options(store, options).await
    }

    /// A limiter over `store` (its rules, and its counts unless Redis counts them), the rules
    /// loaded before it returns and refreshed every `options.refresh_every`.
    pub async fn with_options(store: &Store, options: Options) -> Result<Limiter, Error> {
        let counter = match &options.redis_url {
            Some(url) => Counter::Redis(redis::Shared::connect(url, &options.redis_prefix)?),
            None => counter_for(store, &options),
        };
        let limiter = Limiter::new(counter, Rules::new(Some(store.clone())), &options);
        limiter.rules.reload().await.map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot load the rate limits: {e}"),
            )
        })?;
        limiter.start_refresh(options.refresh_every);
        Ok(limiter)
    }

    fn start_refresh(&self, every: Duration) {
        let cancel = CancellationToken::new();
        let task = self.rules.clone().spawn_refresh(every, cancel.clone());
        let mut slot = self.refresh.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some((cancel, task));
    }

    /// Stop the refresh task and wait for it (shutdown, before the store closes).
    pub async fn shutdown(&self) {
        let taken = self
            .refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((cancel, task)) = taken {
            cancel.cancel();
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "the rate-limit refresh task failed");
            }
        }
    }

    /// Reload the rules now (after an admin write on this instance).
    pub async fn reload_rules(&self) -> Result<(), conduit_store::StoreError> {
        self.rules.reload().await
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.current()
    }

    /// Admit one request of `principal` now.
    pub async fn admit(&self, principal: &Principal) -> Result<Admission, Error> {
        // The hot path: nobody limited, nothing to do.
        if principal.rate_limit_rpm.is_none() && self.rules.is_empty() {
            return Ok(Admission::none());
        }
        self.admit_ms(principal, self.shared.now_ms()).await
    }

    /// Admit one request of `principal` at `now` (Unix seconds).
    pub async fn admit_at(&self, principal: &Principal, now: i64) -> Result<Admission, Error> {
        self.admit_ms(principal, now * 1000).await
    }

    async fn admit_ms(&self, principal: &Principal, now_ms: i64) -> Result<Admission, Error> {
        let Some(plan) = self.plan(principal, now_ms) else {
            return Ok(Admission::none());
        };
        match self.shared.counter.admit(&plan).await {
            Ok(None) => Ok(Admission::held(self.shared.clone(), plan)),
            Ok(Some(refusal)) => Err(refusal.error(&plan)),
            Err(detail) => self.unreachable(&detail, now_ms / 1000),
        }
    }

    /// The limits that apply to `principal`, key then user then team (the order every
    /// admission takes its counters in); `None` when none does.
    fn plan(&self, principal: &Principal, now_ms: i64) -> Option<Plan> {
        let rules = (!self.rules.is_empty()).then(|| self.rules.current());
        let rule = |scope: RateScope, id: Option<&str>| -> Limits {
            match (&rules, id) {
                (Some(rules), Some(id)) => rules.get(scope, id),
                _ => Limits::default(),
            }
        };
        let mut checks = Vec::new();
        let mut key = rule(RateScope::Key, Some(&principal.credential_id));
        if let Some(own) = principal.rate_limit_rpm.filter(|r| *r > 0) {
            key.rpm = Some(key.rpm.map_or(own, |r| r.min(own)));
        }
        for (scope, id, limits) in [
            (RateScope::Key, Some(principal.credential_id.as_str()), key),
            (
                RateScope::User,
                principal.user_id.as_deref(),
                rule(RateScope::User, principal.user_id.as_deref()),
            ),
            (
                RateScope::Team,
                principal.team_id.as_deref(),
                rule(RateScope::Team, principal.team_id.as_deref()),
            ),
        ] {
            if let (Some(id), true) = (id, limits.any()) {
                checks.push(Check {
                    scope,
                    id: id.to_owned(),
                    limits,
                });
            }
        }
        if checks.is_empty() {
            return None;
        }
        let lease_id = if checks.iter().any(|c| c.limits.max_streams.is_some()) {
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            String::new()
        };
        Some(Plan {
            checks,
            now_ms,
            lease_id,
            lease_expires_ms: now_ms.saturating_add(self.lease_ttl_ms),
        })
    }

    /// The counter cannot be reached: refuse (closed) or admit uncounted (open).
    fn unreachable(&self, detail: &str, now: i64) -> Result<Admission, Error> {
        let what = self.shared.counter.what();
        let last = self.last_warn.load(Ordering::Relaxed);
        let log = now.saturating_sub(last) >= WARN_EVERY
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if self.fail_open {
            if log {
                tracing::warn!(
                    %detail,
                    "the rate-limit counter ({what}) is unreachable: admitting rate-limited \
                     requests uncounted (LIMITS_FAIL_MODE=open)"
                );
            }
            return Ok(Admission::none());
        }
        if log {
            tracing::warn!(
                %detail,
                "the rate-limit counter ({what}) is unreachable: refusing rate-limited requests \
                 (LIMITS_FAIL_MODE=closed)"
            );
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "the shared counter of this gateway's rate limits ({what}) is unreachable, so \
                 rate limits are unavailable: requests of rate-limited callers are refused until \
                 it is back; retry shortly"
            ),
        ))
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        if let Some((cancel, _)) = self
            .refresh
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            cancel.cancel();
        }
    }
}

/// In memory on SQLite (one instance), in the store on Postgres.
fn counter_for(store: &Store, _options: &Options) -> Counter {
    match store.engine() {
        Engine::Sqlite => Counter::Local(local::Local::default()),
        Engine::Postgres => Counter::Store(postgres::Shared::new(store.clone())),
    }
}

/// One scope's limits, as one admission checks them.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    scope: RateScope,
    id: String,
    limits: Limits,
}

impl Check {
    /// The counter's name: `rpm:user:<id>`, `tpm:team:<id>`, `streams:key:<id>`.
    fn name(&self, kind: &str) -> String {
        format!("{kind}:{}:{}", self.scope.as_str(), self.id)
    }
}

/// One admission: the scopes it is counted in, and when.
#[derive(Debug)]
pub(crate) struct Plan {
    checks: Vec<Check>,
    now_ms: i64,
    /// The id of this admission's stream leases (empty when it takes none).
    lease_id: String,
    lease_expires_ms: i64,
}

impl Plan {
    fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// The start of the minute window `now` is in.
    fn window_start(&self) -> i64 {
        window_start(self.now())
    }

    /// Seconds into that window.
    fn elapsed(&self) -> i64 {
        self.now() - self.window_start()
    }
}

fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW)
}

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Rpm,
    Tpm,
    Streams,
}

/// Which of a plan's checks refused, and on which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    check: usize,
    limit: Limit,
}

impl Refusal {
    fn error(&self, plan: &Plan) -> Error {
        let Some(check) = plan.checks.get(self.check) else {
            return Error::limited("a rate limit is reached: retry later", 1);
        };
        let whose = check.scope.as_str();
        let rest = (WINDOW - plan.elapsed()).max(1) as u64;
        let limits = check.limits;
        crate::metrics::refused(match self.limit {
            Limit::Rpm => "rate_limit",
            Limit::Tpm => "tokens_per_minute",
            Limit::Streams => "concurrency",
        });
        match self.limit {
            Limit::Rpm => Error::limited(
                format!(
                    "this {whose}'s rate limit of {} requests per minute is reached: retry later",
                    limits.rpm.unwrap_or(0)
                ),
                rest,
            ),
            Limit::Tpm => Error::limited(
                format!(
                    "this {whose}'s rate limit of {} tokens per minute is reached: retry later",
                    limits.tpm.unwrap_or(0)
                ),
                rest,
            ),
            Limit::Streams => Error::limited(
                format!(
                    "this {whose}'s limit of {} concurrent streams is reached: retry when one \
                     ends",
                    limits.max_streams.unwrap_or(0)
                ),
                1,
            ),
        }
    }
}

/// Whether the RPM estimate, counting this request in `current`, is above `rpm`
/// (`previous * (60 - elapsed) / 60 + current > rpm`, in whole numbers).
pub(crate) fn rpm_over(previous: i64, current: i64, elapsed: i64, rpm: i64) -> bool {
    previous * (WINDOW - elapsed) + current * WINDOW > rpm * WINDOW
}

/// Whether the tokens of the window so far (estimated as RPM is) reach `tpm`.
pub(crate) fn tpm_over(previous: i64, current: i64, elapsed: i64, tpm: i64) -> bool {
    previous * (WINDOW - elapsed) + current * WINDOW >= tpm * WINDOW
}

/// An admitted request: holds its stream leases until dropped, and then adds the tokens it
/// recorded to its TPM windows (off the caller's task). Nothing at all for an unlimited caller.
pub struct Admission {
    held: Option<Box<Held>>,
}

struct Held {
    shared: Arc<Shared>,
    lease_id: String,
    /// Names of the scopes' stream counters this admission holds a lease on.
    streams: Vec<String>,
    /// Names of the scopes' TPM counters the tokens go to.
    tpm: Vec<String>,
    tokens: u64,
}

impl Admission {
    /// An admission that holds and counts nothing.
    pub fn none() -> Admission {
        Admission { held: None }
    }

    fn held(shared: Arc<Shared>, plan: Plan) -> Admission {
        let names = |kind: &str, has: fn(&Limits) -> bool| -> Vec<String> {
            plan.checks
                .iter()
                .filter(|c| has(&c.limits))
                .map(|c| c.name(kind))
                .collect()
        };
        let streams = names("streams", |l| l.max_streams.is_some());
        let tpm = names("tpm", |l| l.tpm.is_some());
        if streams.is_empty() && tpm.is_empty() {
            return Admission::none();
        }
        Admission {
            held: Some(Box::new(Held {
                shared,
                lease_id: plan.lease_id,
                streams,
                tpm,
                tokens: 0,
            })),
        }
    }

    /// Count `n` more tokens of this request (input and output) towards its TPM limits.
    pub fn record_tokens(&mut self, n: u64) {
        if let Some(held) = &mut self.held {
            held.tokens = held.tokens.saturating_add(n);
        }
    }

    /// How many stream leases it holds.
    pub fn leases(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.streams.len())
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.held {
            None => f.write_str("Admission(unlimited)"),
            Some(h) => f
                .debug_struct("Admission")
                .field("streams", &h.streams)
                .field("tpm", &h.tpm)
                .field("tokens", &h.tokens)
                .finish(),
        }
    }
}

impl Admission {
    /// End the leases and count the tokens now, and wait until that is done (dropping it does
    /// the same off the caller's task).
    pub async fn finish(mut self) {
        if let Some((shared, release)) = self.take_release() {
            shared.release(&release).await;
        }
    }

    /// What is to give back, taken out (so it is given back once).
    fn take_release(&mut self) -> Option<(Arc<Shared>, Release)> {
        let held = self.held.take()?;
        if held.streams.is_empty() && held.tokens == 0 {
            return None;
        }
        let held = *held;
        let window = window_start(held.shared.now_ms().div_euclid(1000));
        let tokens = i64::try_from(held.tokens).unwrap_or(i64::MAX);
        let release = Release {
            lease_id: held.lease_id,
            streams: held.streams,
            tpm: if tokens > 0 { held.tpm } else { Vec::new() },
            tokens,
            window,
        };
        Some((held.shared, release))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some((shared, release)) = self.take_release() else {
            return;
        };
        if let Counter::Local(local) = &shared.counter {
            local.release(&release);
            return;
        }
        // No runtime (shutting down): the leases run out on their own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { shared.release(&release).await });
        }
    }
}

impl Shared {
    /// Give back what an admission held; a failure is logged (the leases run out on their own).
    async fn release(&self, release: &Release) {
        let done = match &self.counter {
            Counter::Local(local) => {
                local.release(release);
                Ok(())
            }
            Counter::Store(store) => store.release(release).await,
            Counter::Redis(redis) => redis.release(release).await,
        };
        if let Err(detail) = done {
            tracing::warn!(
                %detail,
                "releasing stream leases or counting tokens failed (the leases run out on their own)"
            );
        }
    }
}

/// What a dropped admission gives back: its leases, and its tokens for the window `window`.
#[derive(Debug)]
pub(crate) struct Release {
    lease_id: String,
    streams: Vec<String>,
    tpm: Vec<String>,
    tokens: i64,
    window: i64,
}

#[cfg(test)]
mod tests;
