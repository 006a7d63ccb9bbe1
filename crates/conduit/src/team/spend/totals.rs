//! Period-to-date spend per scope, in memory: what the store last said (every instance's
//! committed rows, re-read each `SPEND_REFRESH_MS`) plus this instance's rows not yet written.
//! A budget check is a few hash lookups here, never a store call.

use std::collections::HashMap;
use std::sync::Mutex;

use conduit_store::TotalDelta;

type Key = (String, String, i64);

#[derive(Default)]
struct Inner {
    stored: HashMap<Key, i64>,
    pending: HashMap<Key, i64>,
}

/// Spend per (scope, period, period start), in nano-dollars.
#[derive(Default)]
pub struct Totals {
    inner: Mutex<Inner>,
}

fn key(d: &TotalDelta) -> Key {
    (d.scope.clone(), d.period.clone(), d.period_start)
}

impl Totals {
    /// The total of `scope` (`user:<id>`, `team:<id>`, `key:<id>`, `gateway`) in the period
    /// `period` starting at `start`.
    pub fn get(&self, scope: &str, period: &str, start: i64) -> i64 {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let k = (scope.to_owned(), period.to_owned(), start);
        inner.stored.get(&k).copied().unwrap_or(0) + inner.pending.get(&k).copied().unwrap_or(0)
    }

    /// Rows recorded here and not yet written.
    pub fn add_pending(&self, deltas: &[TotalDelta]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for d in deltas {
            *inner.pending.entry(key(d)).or_default() += d.cost_nanos;
        }
    }

    /// A batch was written: its deltas move from pending to stored (until the next re-read
    /// brings the store's own sums, which include them).
    pub fn committed(&self, deltas: &[TotalDelta]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for d in deltas {
            let k = key(d);
            if let Some(v) = inner.pending.get_mut(&k) {
                *v -= d.cost_nanos;
                if *v == 0 {
                    inner.pending.remove(&k);
                }
            }
            *inner.stored.entry(k).or_default() += d.cost_nanos;
        }
    }

    /// Replace what the store said with a fresh read of the current periods.
    pub fn replace_stored(&self, rows: Vec<(String, String, i64, i64)>) {
        let stored = rows
            .into_iter()
            .map(|(scope, period, start, nanos)| ((scope, period, start), nanos))
            .collect();
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).stored = stored;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(scope: &str, nanos: i64) -> TotalDelta {
        TotalDelta {
            scope: scope.into(),
            period: "daily".into(),
            period_start: 100,
            cost_nanos: nanos,
        }
    }

    #[test]
    fn pending_then_committed_then_reread() {
        let t = Totals::default();
        t.replace_stored(vec![("user:u".into(), "daily".into(), 100, 5)]);
        t.add_pending(&[d("user:u", 7), d("gateway", 7)]);
        assert_eq!(t.get("user:u", "daily", 100), 12);
        t.committed(&[d("user:u", 7)]);
        assert_eq!(t.get("user:u", "daily", 100), 12);
        // The store's own sum now includes the batch.
        t.replace_stored(vec![("user:u".into(), "daily".into(), 100, 12)]);
        assert_eq!(t.get("user:u", "daily", 100), 12);
        assert_eq!(t.get("gateway", "daily", 100), 7);
        assert_eq!(t.get("user:u", "daily", 200), 0);
    }
}
