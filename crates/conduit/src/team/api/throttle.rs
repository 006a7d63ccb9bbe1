//! Failed-login throttling, in memory per instance, per client IP and per username: after 5
//! failures in a row each further attempt waits `2^(n-5)` s (at most 300 s), even with the
//! right password. Attempts still being checked count too, so a burst of parallel guesses
//! cannot slip past before the first failure is recorded. A success clears the username's
//! count, not the IP's, so that one valid account cannot reset an IP guessing at others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conduit_upstream::clock::{Clock, SystemClock};
use time::OffsetDateTime;

/// Failures allowed before the first wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait, in seconds.
const MAX_WAIT_SECS: u64 = 300;
/// Counters idle this long are forgotten (when the map is pruned).
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Prune the map when it holds more entries than this.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: OffsetDateTime,
    /// Attempts begun and not yet decided.
    in_flight: u32,
}

/// The login throttle of one instance.
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
}

/// One sign-in attempt being checked; dropping it undecided just releases it.
pub struct Attempt {
    throttle: Arc<LoginThrottle>,
    keys: Vec<String>,
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Start an attempt for `ip` and `username`, or `Err(seconds)` to wait first.
    pub fn begin(self: &Arc<Self>, ip: Option<&str>, username: &str) -> Result<Attempt, u64> {
        let now = self.clock.now();
        let keys: Vec<String> = keys(ip, username).collect();
        let mut map = self.lock();
        if map.len() > PRUNE_AT {
            map.retain(|_, f| f.in_flight > 0 || now - f.last < FORGET_AFTER);
        }
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k).and_then(|f| blocked(f, now)))
            .max();
        if let Some(secs) = wait {
            return Err(secs);
        }
        for k in &keys {
            map.entry(k.clone()).or_insert_with(|| fresh(now)).in_flight += 1;
        }
        Ok(Attempt {
            throttle: Arc::clone(self),
            keys,
        })
    }

    /// Seconds `ip` or `username` must wait before the next attempt, if any.
    pub fn wait(&self, ip: Option<&str>, username: &str) -> Option<u64> {
        let now = self.clock.now();
        let map = self.lock();
        keys(ip, username)
            .filter_map(|k| map.get(&k).and_then(|f| blocked(f, now)))
            .max()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl Attempt {
    /// The attempt failed: every key counts one more failure.
    pub fn failed(self) {
        let now = self.throttle.clock.now();
        let mut map = self.throttle.lock();
        for k in &self.keys {
            if let Some(f) = map.get_mut(k) {
                f.count = f.count.saturating_add(1);
                f.last = now;
            }
        }
    }

    /// The attempt succeeded: the username starts over.
    pub fn succeeded(self) {
        let mut map = self.throttle.lock();
        if let Some(f) = self.keys.last().and_then(|k| map.get_mut(k)) {
            f.count = 0;
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut map = self.throttle.lock();
        for k in &self.keys {
            if let Some(f) = map.get_mut(k) {
                f.in_flight = f.in_flight.saturating_sub(1);
                if f.count == 0 && f.in_flight == 0 {
                    map.remove(k);
                }
            }
        }
    }
}

fn fresh(now: OffsetDateTime) -> Failures {
    Failures {
        count: 0,
        last: now,
        in_flight: 0,
    }
}

/// The IP's key (when known), then the username's (last: [`Attempt::succeeded`] relies on it).
fn keys(ip: Option<&str>, username: &str) -> impl Iterator<Item = String> {
    ip.map(|ip| format!("ip:{ip}"))
        .into_iter()
        .chain(std::iter::once(format!("user:{username}")))
}

/// Whole seconds to wait before another attempt on `f`, if any.
fn blocked(f: &Failures, now: OffsetDateTime) -> Option<u64> {
    if f.count.saturating_add(f.in_flight) < FREE_FAILURES {
        return None;
    }
    let waiting = remaining(f, now);
    // Out of free attempts with one still being checked: wait for its verdict.
    if f.in_flight > 0 {
        return Some(waiting.unwrap_or(1));
    }
    waiting
}

/// Whole seconds left of the wait after `f`'s last failure, if any.
fn remaining(f: &Failures, now: OffsetDateTime) -> Option<u64> {
    if f.count < FREE_FAILURES {
        return None;
    }
    let exp = (f.count - FREE_FAILURES).min(16);
    let wait = Duration::from_secs((1u64 << exp).min(MAX_WAIT_SECS));
    let left = time::Duration::try_from(wait).ok()? - (now - f.last);
    if left <= time::Duration::ZERO {
        return None;
    }
    // Round up: a client that waits `retry-after` seconds must find the wait over.
    let secs = left.whole_seconds() as u64 + u64::from(left.subsec_nanoseconds() > 0);
    Some(secs.max(1))
}

#[cfg(test)]
mod tests;
