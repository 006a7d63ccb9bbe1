//! Failed-login throttling, in memory per instance, per client IP and per username: after 5
//! failures in a row each further attempt waits `2^(n-5)` s (at most 300 s), even with the
//! right password. A success clears the username's count, not the IP's, so that one valid
//! account cannot be used to reset an IP that is guessing at others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
}

/// The login throttle of one instance.
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds)` to wait before `ip` or `username` may try again.
    pub fn wait(&self, ip: Option<&str>, username: &str) -> Option<u64> {
        let now = self.clock.now();
        let map = self.lock();
        keys(ip, username)
            .filter_map(|k| map.get(&k).and_then(|f| remaining(f, now)))
            .max()
    }

    /// Count a failed attempt.
    pub fn failed(&self, ip: Option<&str>, username: &str) {
        let now = self.clock.now();
        let mut map = self.lock();
        if map.len() > PRUNE_AT {
            map.retain(|_, f| now - f.last < FORGET_AFTER);
        }
        for k in keys(ip, username) {
            let f = map.entry(k).or_insert(Failures {
                count: 0,
                last: now,
            });
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
    }

    /// A successful sign-in: the username starts over.
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&user_key(username));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

fn user_key(username: &str) -> String {
    format!("user:{username}")
}

fn keys(ip: Option<&str>, username: &str) -> impl Iterator<Item = String> {
    ip.map(|ip| format!("ip:{ip}"))
        .into_iter()
        .chain(std::iter::once(user_key(username)))
}

/// Whole seconds left to wait after `f`'s last failure, if any.
fn remaining(f: &Failures, now: OffsetDateTime) -> Option<u64> {
    if f.count < FREE_FAILURES {
        return None;
    }
    let exp = (f.count - FREE_FAILURES).min(16);
    let wait = Duration::from_secs((1u64 << exp).min(MAX_WAIT_SECS));
    let elapsed = now - f.last;
    let left = time::Duration::try_from(wait).ok()? - elapsed;
    if left <= time::Duration::ZERO {
        return None;
    }
    // Round up: a client that waits `retry-after` seconds must find the wait over.
    let secs = left.whole_seconds() as u64 + u64::from(left.subsec_nanoseconds() > 0);
    Some(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use conduit_upstream::clock::ManualClock;

    #[test]
    fn waits_grow_after_five_failures_and_a_success_clears_the_user() {
        let clock = Arc::new(ManualClock::default());
        let t = LoginThrottle::new(clock.clone());
        for _ in 0..5 {
            assert_eq!(t.wait(Some("1.2.3.4"), "bob"), None);
            t.failed(Some("1.2.3.4"), "bob");
        }
        assert_eq!(t.wait(Some("1.2.3.4"), "bob"), Some(1));
        // Another address, same user: still throttled; another user from the same address too.
        assert_eq!(t.wait(Some("5.6.7.8"), "bob"), Some(1));
        assert_eq!(t.wait(Some("1.2.3.4"), "alice"), Some(1));
        assert_eq!(t.wait(Some("5.6.7.8"), "alice"), None);
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.wait(Some("1.2.3.4"), "bob"), None);
        t.failed(Some("1.2.3.4"), "bob");
        assert_eq!(t.wait(None, "bob"), Some(2));
        for _ in 0..20 {
            t.failed(None, "bob");
        }
        assert_eq!(t.wait(None, "bob"), Some(MAX_WAIT_SECS));
        t.succeeded("bob");
        assert_eq!(t.wait(None, "bob"), None);
        // The address keeps its count.
        assert_eq!(t.wait(Some("1.2.3.4"), "carol"), Some(2));
    }
}
