//! A per-IP count over a fixed window, in memory (one instance's view): `/device` code entry
//! is limited to 10 attempts per 600 s per address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Forget idle addresses once the map holds this many.
const PRUNE_AT: usize = 10_000;

pub struct IpLimit {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl IpLimit {
    pub fn new(max: u32, window: Duration) -> IpLimit {
        IpLimit {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Count one attempt from `ip`: `Err(seconds to wait)` once over the limit.
    pub fn hit(&self, ip: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > PRUNE_AT {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(ip.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address() {
        let limit = IpLimit::new(2, Duration::from_secs(600));
        let steps = [
            ("a", true),
            ("a", true),
            ("b", true),
            ("a", false),
            ("b", true),
        ];
        for (i, (ip, ok)) in steps.into_iter().enumerate() {
            assert_eq!(limit.hit(ip).is_ok(), ok, "step {i}");
        }
        assert!(limit.hit("a").unwrap_err() > 500);
    }
}
