//! Spend: the ledger (one row per request, written in batches off the hot path), prices, budgets
//! (in-memory checks against period totals shared through the store) and threshold notices.
//! - `mod.rs`: [`Spend`], what the guard and the request record call;
//! - `record.rs`: a finished request → a priced ledger row and its period-total deltas;
//! - `ledger.rs`: the batch writer (an owned task);
//! - `totals.rs`: period-to-date spend per scope in memory;
//! - `limits.rs`: spend limits as loaded from the store, resolved to ids;
//! - `refresh.rs`: the owned task that re-reads totals, limits and prices;
//! - `notify.rs`: threshold notices (log + webhook, once across instances);
//! - `headers.rs`: the remaining-budget and `anthropic-ratelimit-unified-*` headers.

pub mod headers;
pub mod ledger;
pub mod limits;
pub mod meter;
pub mod notify;
pub mod record;
pub mod refresh;
pub mod totals;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use conduit_core::{Error, ErrorKind};
use conduit_spend::budget::{self, Verdict};
use conduit_spend::jiff::tz::TimeZone;
use conduit_spend::Period;
use conduit_spend::Pricer;
use conduit_store::Store;
use tokio::sync::mpsc;

use crate::config::spend::SpendConfig;
use ledger::Ledger;
use limits::LoadedLimits;
use notify::Notice;
use totals::Totals;

use super::Principal;

/// The clock budgets and the ledger read (Unix seconds); tests inject their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Team mode's spend state (one per process).
pub struct Spend {
    pub config: SpendConfig,
    pub tz: TimeZone,
    pub ledger: Arc<Ledger>,
    pub totals: Arc<Totals>,
    pricer: RwLock<Arc<Pricer>>,
    limits: RwLock<Arc<LoadedLimits>>,
    notices: mpsc::UnboundedSender<Notice>,
    notices_rx: Mutex<Option<mpsc::UnboundedReceiver<Notice>>>,
    /// Models already warned about having no price.
    warned: Mutex<HashSet<String>>,
    /// The period windows of the last second a row was recorded in: `(now, starts)`.
    windows: Mutex<(i64, [i64; 4])>,
    clock: RwLock<Clock>,
}

impl Default for Spend {
    fn default() -> Self {
        Self::new(SpendConfig::default()).unwrap_or_else(|_| unreachable!("UTC is a zone"))
    }
}

impl Spend {
    /// On the system clock. Errors: an unknown `SPEND_TIME_ZONE`.
    pub fn new(config: SpendConfig) -> Result<Self, String> {
        Self::with_clock(config, Arc::new(super::wire::now))
    }

    pub fn with_clock(config: SpendConfig, clock: Clock) -> Result<Self, String> {
        let tz = conduit_spend::parse_tz(&config.time_zone)
            .map_err(|e| format!("SPEND_TIME_ZONE `{}`: {e}", config.time_zone))?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Self {
            ledger: Arc::new(Ledger::new(config.batch_rows)),
            totals: Arc::new(Totals::default()),
            pricer: RwLock::new(Arc::new(Pricer::list())),
            limits: RwLock::new(Arc::new(LoadedLimits::default())),
            notices: tx,
            notices_rx: Mutex::new(Some(rx)),
            warned: Mutex::new(HashSet::new()),
            windows: Mutex::new((i64::MIN, [0; 4])),
            config,
            tz,
            clock: RwLock::new(clock),
        })
    }

    pub fn now(&self) -> i64 {
        (self.clock.read().unwrap_or_else(|p| p.into_inner()))()
    }

    /// Replace the clock (tests move time across a period's end).
    pub fn set_clock(&self, clock: Clock) {
        *self.clock.write().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    /// The start of each period window now (in `Period::ALL` order), computed once a second.
    pub fn windows(&self) -> [i64; 4] {
        let now = self.now();
        let mut cached = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != now {
            let mut starts = [0; 4];
            for (start, period) in starts.iter_mut().zip(Period::ALL) {
                *start = period.window(now, &self.tz).0;
            }
            *cached = (now, starts);
        }
        cached.1
    }

    pub fn pricer(&self) -> Arc<Pricer> {
        self.pricer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn limits(&self) -> Arc<LoadedLimits> {
        self.limits
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-read spend limits and price overrides from the store (after an admin write here; other
    /// instances catch up on their refresh tick).
    pub async fn reload(&self, store: &Store) -> Result<(), Error> {
        let loaded = limits::load(store).await?;
        let pricer = refresh::load_pricer(store).await?;
        *self.limits.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
        *self.pricer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pricer);
        Ok(())
    }

    /// Where `principal`'s caps stand now (in memory).
    pub fn verdict(&self, principal: &Principal) -> Verdict {
        self.verdict_at(principal, self.now())
    }

    fn verdict_at(&self, principal: &Principal, now: i64) -> Verdict {
        let limits = self.limits();
        if limits.is_empty() {
            return Verdict::default();
        }
        let caller = limits.caller(principal);
        budget::evaluate(
            limits.list(),
            &caller,
            &|scope: &str, period: Period, start: i64| {
                self.totals.get(scope, period.as_str(), start)
            },
            now,
            &self.tz,
        )
    }

    /// Whether `principal` may send one more request now: `Ok(None)` without any cap, `Ok(Some)`
    /// with where the caps stand, `Err` (429 `billing_error`) over a cap. In memory.
    pub fn check(&self, principal: &Principal) -> Result<Option<Verdict>, Error> {
        let now = self.now();
        let verdict = self.verdict_at(principal, now);
        if let Some(block) = verdict.blocked {
            crate::metrics::refused("budget");
            let mut e = Error::new(ErrorKind::BudgetExceeded, block.message);
            e.retry_after = Some(block.reset_s.map_or(86_400, |r| (r - now).max(1) as u64));
            return Err(e);
        }
        Ok((!verdict.caps.is_empty()).then_some(verdict))
    }

    /// Warn once per model that has no price.
    fn warn_unpriced(&self, upstream: &str, model: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.len() < 1000 && warned.insert(format!("{upstream}/{model}")) {
            tracing::warn!(
                upstream,
                model,
                "no price is known for this model: its requests are recorded without a cost \
                 (set one with PUT /admin/prices/{{upstream}}/{{model}})"
            );
        }
    }

    /// The notice task's receiver (taken once, by `serve`).
    pub fn take_notices(&self) -> Option<mpsc::UnboundedReceiver<Notice>> {
        self.notices_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
