//! Which account (or upstream) serves a request: sticky sessions, cooldowns after
//! failover-worthy errors, and the way back to a session's first choice. Pure: time comes in as
//! an argument, IO is elsewhere. Kiro's account pool and the [`crate::router`] both keep their
//! cooldowns here; [`Wording`] names what is scheduled in the messages people read.

use std::collections::HashMap;

use conduit_core::{Error, ErrorKind, FailoverCause};
use time::OffsetDateTime;

use crate::clock::format_time;

mod types;

pub use types::{AccountState, Health, Reason, SchedulerConfig, Sticky, Suspension, Wording};

/// Scheduler state for a fixed, ordered list of account ids.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    wording: Wording,
    ids: Vec<String>,
    health: Vec<Health>,
    sessions: HashMap<String, Sticky>,
    /// Something worth persisting changed since the last [`Scheduler::take_dirty`].
    dirty: bool,
}

impl Scheduler {
    pub fn new(config: SchedulerConfig, ids: Vec<String>) -> Self {
        let health = vec![Health::default(); ids.len()];
        Self {
            config,
            wording: Wording::default(),
            ids,
            health,
            sessions: HashMap::new(),
            dirty: false,
        }
    }

    /// The same scheduler, naming what it schedules with `wording`.
    pub fn with_wording(mut self, wording: Wording) -> Self {
        self.wording = wording;
        self
    }

    /// Takes over persisted health and sessions of accounts that still exist.
    pub fn restore(
        &mut self,
        health: HashMap<String, Health>,
        sessions: HashMap<String, Sticky>,
        now: OffsetDateTime,
    ) {
        for (i, id) in self.ids.iter().enumerate() {
            if let Some(h) = health.get(id) {
                self.health[i] = h.clone();
            }
        }
        let ttl = self.config.session_ttl;
        self.sessions = sessions
            .into_iter()
            .filter(|(_, s)| {
                self.ids.contains(&s.home)
                    && self.ids.contains(&s.current)
                    && s.last_used + ttl > now
            })
            .collect();
        self.evict();
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn health(&self, index: usize) -> Option<&Health> {
        self.health.get(index)
    }

    /// The account's state and why, ignoring its credentials (the pool adds `disabled`).
    pub fn state(&self, index: usize, now: OffsetDateTime) -> (AccountState, Option<String>) {
        let Some(h) = self.health.get(index) else {
            return (AccountState::Active, None);
        };
        let upstream = &self.wording.upstream;
        let why = |r: Reason| {
            Some(match &h.detail {
                Some(d) => format!("{}: {d}", r.describe(upstream)),
                None => r.describe(upstream),
            })
        };
        if h.suspended.is_some() {
            return (AccountState::Suspended, why(Reason::Suspended));
        }
        match (self.cooling_until(index, now), h.reason) {
            (Some(_), Some(Reason::Quota)) => (AccountState::Quota, why(Reason::Quota)),
            (Some(_), Some(r)) => (AccountState::CoolingDown, why(r)),
            _ => (AccountState::Active, None),
        }
    }

    /// Whether the account may not be tried at all now (suspended, or resting after risk
    /// control), even when it is the only one.
    pub fn hard_blocked(&self, index: usize, now: OffsetDateTime) -> bool {
        self.health.get(index).is_some_and(|h| {
            h.suspended.is_some()
                || (h.reason.is_some_and(Reason::hard) && self.cooling_until(index, now).is_some())
        })
    }

    /// The fingerprint a suspension was recorded with, if the account is suspended.
    pub fn suspended_with(&self, index: usize) -> Option<Option<&str>> {
        self.health
            .get(index)?
            .suspended
            .as_ref()
            .map(|s| s.fingerprint.as_deref())
    }

    /// Lifts a suspension (the account's credentials changed).
    pub fn lift_suspension(&mut self, index: usize) {
        if let Some(h) = self.health.get_mut(index) {
            if h.suspended.take().is_some() {
                h.reason = None;
                h.detail = None;
                h.failures = 0;
                self.dirty = true;
            }
        }
    }

    /// Adds the credits one response cost.
    pub fn add_credits(&mut self, index: usize, credits: f64) {
        if let Some(h) = self.health.get_mut(index) {
            if credits.is_finite() && credits > 0.0 {
                h.credits_used += credits;
                self.dirty = true;
            }
        }
    }

    /// The cooldown end of this account, if it is cooling down at `now`.
    pub fn cooling_until(&self, index: usize, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.health
            .get(index)
            .and_then(|h| h.cooldown_until)
            .filter(|until| *until > now)
    }

    /// The account to try next, or `None` when every account is tried or cooling down.
    /// A session goes to its first (home) account whenever that is available, else stays where
    /// it is, else moves to the next available account after home. A new session goes to the
    /// available account with the fewest sessions; a request without a session to the first
    /// available account.
    pub fn pick(
        &mut self,
        now: OffsetDateTime,
        session: Option<&str>,
        tried: &[usize],
    ) -> Option<usize> {
        let available = |i: usize| {
            !tried.contains(&i)
                && self.cooling_until(i, now).is_none()
                && self.health.get(i).is_some_and(|h| h.suspended.is_none())
        };
        let n = self.ids.len();
        let Some(sid) = session else {
            return (0..n).find(|&i| available(i));
        };
        let known = self.sessions.get(sid).and_then(|s| {
            let home = self.index_of(&s.home)?;
            Some((home, self.index_of(&s.current).unwrap_or(home)))
        });
        let choice = match known {
            Some((home, current)) => {
                if available(home) {
                    Some(home)
                } else if available(current) {
                    Some(current)
                } else {
                    (1..n).map(|k| (home + k) % n).find(|&i| available(i))
                }
            }
            None => {
                let mut load = vec![0usize; n];
                for s in self.sessions.values() {
                    if let Some(i) = self.index_of(&s.home) {
                        load[i] += 1;
                    }
                }
                (0..n)
                    .filter(|&i| available(i))
                    .min_by_key(|&i| (load[i], i))
            }
        }?;
        self.assign(sid, known.map(|(home, _)| home), choice, now);
        Some(choice)
    }

    fn assign(&mut self, sid: &str, home: Option<usize>, current: usize, now: OffsetDateTime) {
        let home_id = self.ids[home.unwrap_or(current)].clone();
        let current_id = self.ids[current].clone();
        match self.sessions.get_mut(sid) {
            Some(s) => {
                if s.current != current_id {
                    s.current = current_id;
                    self.dirty = true;
                }
                // Touching the time alone is not worth a write.
                s.last_used = now;
            }
            None => {
                self.sessions.insert(
                    sid.to_string(),
                    Sticky {
                        home: home_id,
                        current: current_id,
                        last_used: now,
                    },
                );
                self.dirty = true;
                self.evict();
            }
        }
    }

    /// Forgets the least recently used sessions beyond the limit (in one sweep of a tenth, so
    /// the sort is rare).
    fn evict(&mut self) {
        let max = self.config.max_sessions.max(1);
        if self.sessions.len() <= max {
            return;
        }
        let target = max - max / 10;
        let mut by_age: Vec<(OffsetDateTime, String)> = self
            .sessions
            .iter()
            .map(|(k, s)| (s.last_used, k.clone()))
            .collect();
        by_age.sort();
        let excess = self.sessions.len() - target;
        for (_, k) in by_age.into_iter().take(excess) {
            self.sessions.remove(&k);
        }
        self.dirty = true;
    }

    /// A call on this account succeeded: it is healthy again.
    pub fn succeeded(&mut self, index: usize) {
        if let Some(h) = self.health.get_mut(index) {
            if h.failures > 0 || h.cooldown_until.is_some() || h.reason.is_some() {
                h.failures = 0;
                h.cooldown_until = None;
                h.reason = None;
                h.detail = None;
                self.dirty = true;
            }
        }
    }

    /// A failover-worthy failure on this account: cool it down (a suspension disables it).
    /// Returns the cooldown's end.
    pub fn failed(&mut self, index: usize, reason: Reason, now: OffsetDateTime) -> OffsetDateTime {
        self.failed_with(index, reason, now, None, None)
    }

    /// [`Scheduler::failed`] with Kiro's words and, for a suspension, the credentials'
    /// fingerprint.
    pub fn failed_with(
        &mut self,
        index: usize,
        reason: Reason,
        now: OffsetDateTime,
        detail: Option<String>,
        fingerprint: Option<String>,
    ) -> OffsetDateTime {
        let config = self.config.clone();
        let Some(h) = self.health.get_mut(index) else {
            return now;
        };
        h.failures = h.failures.saturating_add(1);
        h.detail = detail;
        let until = match reason {
            Reason::Quota => h
                .next_reset
                .filter(|r| *r > now)
                .unwrap_or(now + config.quota_cooldown),
            Reason::RiskControl => now + config.risk_cooldown,
            Reason::Credentials if config.credentials_cooldown.is_some() => {
                now + config.credentials_cooldown.unwrap_or(config.cooldown_base)
            }
            Reason::Suspended => {
                h.suspended = Some(Suspension {
                    at: now,
                    fingerprint,
                });
                h.cooldown_until = None;
                h.reason = Some(reason);
                self.dirty = true;
                return now;
            }
            _ => {
                let factor = 2u32.saturating_pow(h.failures.saturating_sub(1).min(20));
                now + config
                    .cooldown_base
                    .saturating_mul(factor)
                    .min(config.cooldown_cap)
            }
        };
        h.cooldown_until = Some(until);
        h.reason = Some(reason);
        self.dirty = true;
        until
    }

    /// Remembers when this account's quota resets (from a usage query).
    pub fn set_next_reset(&mut self, index: usize, reset: Option<OffsetDateTime>) {
        if let Some(h) = self.health.get_mut(index) {
            if h.next_reset != reset {
                h.next_reset = reset;
                self.dirty = true;
            }
        }
    }

    /// The session's current account id, if the session is known.
    pub fn session(&self, sid: &str) -> Option<&Sticky> {
        self.sessions.get(sid)
    }

    /// Whether something unsaved changed.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether state changed since the last call, clearing the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Forces the next [`Scheduler::take_dirty`] to report a change (after a failed write).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Health by account id and the sessions, for `state.json`.
    pub fn snapshot(&self) -> (HashMap<String, Health>, HashMap<String, Sticky>) {
        let health = self
            .ids
            .iter()
            .cloned()
            .zip(self.health.iter().cloned())
            .collect();
        (health, self.sessions.clone())
    }

    /// The error when no account can take the request: the most relevant kind (quota and 429 →
    /// rate limited, 5xx → overloaded, else credentials) and when the soonest account is back.
    pub fn exhausted_error(&self, now: OffsetDateTime, last: Option<&Error>) -> Error {
        let n = self.ids.len();
        let mut parts = Vec::new();
        let mut soonest: Option<OffsetDateTime> = None;
        let mut reasons = Vec::new();
        for (i, id) in self.ids.iter().enumerate() {
            if self.health[i].suspended.is_some() {
                let why = Reason::Suspended.describe(&self.wording.upstream);
                parts.push(format!("{id}: {why}"));
                reasons.push(Reason::Suspended);
                continue;
            }
            match (self.cooling_until(i, now), self.health[i].reason) {
                (Some(until), Some(reason)) => {
                    parts.push(format!(
                        "{id}: {} until {}",
                        reason.describe(&self.wording.upstream),
                        format_time(until)
                    ));
                    soonest = Some(soonest.map_or(until, |s| s.min(until)));
                    reasons.push(reason);
                }
                _ => parts.push(format!("{id}: failed just now")),
            }
        }
        let kind = if reasons
            .iter()
            .any(|r| matches!(r, Reason::Quota | Reason::Throttled | Reason::RiskControl))
        {
            ErrorKind::RateLimited
        } else if reasons.contains(&Reason::ServerError) {
            ErrorKind::Overloaded
        } else if reasons.contains(&Reason::Timeout) {
            ErrorKind::Timeout
        } else {
            ErrorKind::Credentials
        };
        let when = match soonest {
            Some(t) => format!(
                "; the first is available again at {} (in {} s)",
                format_time(t),
                (t - now).whole_seconds().max(1)
            ),
            None => String::new(),
        };
        // Another upstream may serve the request: the error keeps a failover cause.
        let cause = last.and_then(|e| e.cause).unwrap_or(match kind {
            ErrorKind::RateLimited => FailoverCause::Throttled,
            ErrorKind::Overloaded => FailoverCause::ServerError,
            ErrorKind::Timeout => FailoverCause::Timeout,
            _ => FailoverCause::Credentials,
        });
        let last = last
            .map(|e| format!(" Last error: {}", e.message))
            .unwrap_or_default();
        let what = if n == 1 {
            self.wording.one_unavailable.clone()
        } else {
            format!("all {n} {} are exhausted or unavailable", self.wording.many)
        };
        Error::new(
            kind,
            format!(
                "{what} ({}){when}. {}{last}",
                parts.join("; "),
                self.wording.advice
            ),
        )
        .with_cause(cause)
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }
}

#[cfg(test)]
mod tests;
