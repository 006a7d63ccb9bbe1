//! Histograms of durations: fixed buckets (upper bounds in seconds), per-bucket atomic counts
//! (made cumulative when rendered) and the sum in nanoseconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Whole requests: from a quick refusal to a long agentic stream.
pub const REQUEST_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Time to first token: dense around the usual 0.3 to 5 s of a model's first token.
pub const TTFT_BUCKETS: [f64; 15] = [
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0,
];

pub(crate) struct Histogram<const B: usize> {
    /// Observations per bucket (not cumulative): `counts[i]` for values in
    /// `(bounds[i-1], bounds[i]]`; `over` for values above the last bound.
    counts: [AtomicU64; B],
    over: AtomicU64,
    sum_nanos: AtomicU64,
}

impl<const B: usize> Default for Histogram<B> {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            over: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// A histogram read at one moment: cumulative bucket counts, the count and the sum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot<const B: usize> {
    pub cumulative: [u64; B],
    /// The `+Inf` bucket, equal to the count.
    pub count: u64,
    pub sum_seconds: f64,
}

impl<const B: usize> Histogram<B> {
    pub fn observe(&self, bounds: &[f64; B], value: Duration) {
        let secs = value.as_secs_f64();
        match bounds.iter().position(|b| secs <= *b) {
            Some(i) => self.counts[i].fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot<B> {
        let mut running = 0u64;
        let cumulative = std::array::from_fn(|i| {
            running += self.counts[i].load(Relaxed);
            running
        });
        Snapshot {
            cumulative,
            // Counted from the buckets read, so `+Inf` and `_count` always agree.
            count: running + self.over.load(Relaxed),
            sum_seconds: self.sum_nanos.load(Relaxed) as f64 / 1e9,
        }
    }
}
