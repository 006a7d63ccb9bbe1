//! The portal's idle expiry: when each session was last seen on this instance. A session new
//! to this instance starts from the store's record of its last use (written in batches by the
//! sync task), so moving between instances neither ends a live session nor revives an idle
//! one by more than one batch interval.

use std::collections::HashMap;
use std::sync::Mutex;

/// Beyond this many sessions, those idle past any limit are forgotten on the next visit.
const PRUNE_AT: usize = 10_000;

#[derive(Default)]
pub struct Idle {
    seen: Mutex<HashMap<String, i64>>,
}

impl Idle {
    /// This instance's last sight of session `id` (Unix seconds), if any.
    pub fn last_seen(&self, id: &str) -> Option<i64> {
        self.lock().get(id).copied()
    }

    /// Mark session `id` seen at `now`; forget sessions unseen for `max_idle` when many.
    pub fn seen(&self, id: &str, now: i64, max_idle: i64) {
        let mut seen = self.lock();
        if seen.len() >= PRUNE_AT {
            seen.retain(|_, at| now - *at <= max_idle);
        }
        seen.insert(id.to_owned(), now);
    }

    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a session last active at `last` is idle past `max_idle` seconds at `now`.
pub fn expired(last: i64, now: i64, max_idle: i64) -> bool {
    now.saturating_sub(last) > max_idle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_past_the_limit_expires() {
        for (last, now, max, want) in [
            (100, 100, 60, false),
            (100, 160, 60, false),
            (100, 161, 60, true),
            (100, 50, 60, false),
        ] {
            assert_eq!(expired(last, now, max), want, "{last} {now} {max}");
        }
    }

    #[test]
    fn remembers_and_prunes() {
        let idle = Idle::default();
        idle.seen("a", 10, 60);
        assert_eq!(idle.last_seen("a"), Some(10));
        idle.forget("a");
        assert_eq!(idle.last_seen("a"), None);
        for i in 0..PRUNE_AT {
            idle.seen(&format!("s{i}"), 0, 60);
        }
        idle.seen("fresh", 1_000, 60);
        assert_eq!(idle.lock().len(), 1);
    }
}
