//! Per-client-address limits in memory, one instance's view (a sliding window of attempt
//! times): the device authorization endpoint allows 30 per 10 minutes, `/device`'s code entry
//! 10, the browser sign-in starts 60.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many addresses, idle ones are dropped on the next attempt.
const PRUNE_ABOVE: usize = 10_000;

/// At most `max` attempts per address within `window`.
pub struct IpLimit {
    max: usize,
    window: Duration,
    /// Addresses absent (tests without a peer address) share the `None` slot.
    seen: Mutex<HashMap<Option<IpAddr>, VecDeque<Instant>>>,
}

impl IpLimit {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Count an attempt from `ip` at `now`: `Ok`, or `Err(seconds to wait)` (the attempt is not
    /// counted then).
    pub fn check(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let window = self.window;
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < window;
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, times| times.back().is_some_and(fresh));
        }
        let times = seen.entry(ip).or_default();
        while times.front().is_some_and(|t| !fresh(t)) {
            times.pop_front();
        }
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.saturating_duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_address_until_the_window_moves_on() {
        let limit = IpLimit::new(2, Duration::from_secs(600));
        let t0 = Instant::now();
        let a: Option<IpAddr> = Some([10, 0, 0, 1].into());
        let b: Option<IpAddr> = Some([10, 0, 0, 2].into());
        assert_eq!(limit.check(a, t0), Ok(()));
        assert_eq!(limit.check(a, t0 + Duration::from_secs(100)), Ok(()));
        assert_eq!(limit.check(a, t0 + Duration::from_secs(200)), Err(400));
        assert_eq!(limit.check(b, t0 + Duration::from_secs(200)), Ok(()));
        assert_eq!(limit.check(a, t0 + Duration::from_secs(600)), Ok(()));
        assert_eq!(limit.check(a, t0 + Duration::from_secs(601)), Err(99));
    }
}
