//! A labelled metric family: label values → one series of atomics, with a cap on how many
//! distinct label sets it keeps.
//!
//! A lookup hashes the label values (no allocation) and finds the series under a read lock;
//! the update itself is atomic, so many requests record at once. A new label set takes the
//! write lock once. Past `cap` distinct sets, a new set is folded (its free-text labels become
//! `"other"`) so that a flood of new models or upstreams cannot grow memory or `/metrics`.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, RwLock};

/// Maps a label set past the cap onto the overflow set (e.g. model → `"other"`). The folded
/// sets must be few: they are kept whatever the cap.
pub(crate) type Fold<const N: usize> = for<'a> fn([&'a str; N]) -> [&'a str; N];

/// Series by the hash of their labels (already random-keyed: the map does not hash it again);
/// colliding label sets share a bucket.
type BySeriesHash<const N: usize, S> =
    HashMap<u64, Vec<Arc<Series<N, S>>>, BuildHasherDefault<PassThrough>>;

/// One series: its label values and its atomics.
pub(crate) struct Series<const N: usize, S> {
    pub labels: [Box<str>; N],
    pub value: S,
}

pub(crate) struct Family<const N: usize, S> {
    /// Label names, in the order of every label set.
    pub names: [&'static str; N],
    series: RwLock<BySeriesHash<N, S>>,
    hasher: RandomState,
    cap: usize,
    fold: Fold<N>,
}

impl<const N: usize, S: Default> Family<N, S> {
    pub fn new(names: [&'static str; N], cap: usize, fold: Fold<N>) -> Self {
        Self {
            names,
            series: RwLock::new(HashMap::default()),
            hasher: RandomState::new(),
            cap,
            fold,
        }
    }

    /// Applies `f` to the series of `labels`, creating it (or, past the cap, the folded one).
    pub fn with(&self, labels: [&str; N], f: impl FnOnce(&S)) {
        let hash = self.hash(&labels);
        {
            let map = self.series.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = find(&map, hash, &labels) {
                f(&s.value);
                return;
            }
        }
        let series = self.insert(hash, labels);
        f(&series.value);
    }

    fn insert(&self, hash: u64, labels: [&str; N]) -> Arc<Series<N, S>> {
        let mut map = self.series.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = find(&map, hash, &labels) {
            return s.clone();
        }
        let count: usize = map.values().map(Vec::len).sum();
        let (hash, labels) = if count >= self.cap {
            let folded = (self.fold)(labels);
            let hash = self.hash(&folded);
            if let Some(s) = find(&map, hash, &folded) {
                return s.clone();
            }
            (hash, folded)
        } else {
            (hash, labels)
        };
        let series = Arc::new(Series {
            labels: labels.map(Box::from),
            value: S::default(),
        });
        map.entry(hash).or_default().push(series.clone());
        series
    }

    fn hash(&self, labels: &[&str; N]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for l in labels {
            h.write(l.as_bytes());
            h.write_u8(0xff); // not valid UTF-8: separates the values
        }
        h.finish()
    }

    /// Every series, sorted by label values (a stable `/metrics`). The lock is held only to
    /// copy the handles; values are read afterwards.
    pub fn snapshot(&self) -> Vec<Arc<Series<N, S>>> {
        let mut all: Vec<_> = {
            let map = self.series.read().unwrap_or_else(|p| p.into_inner());
            map.values().flatten().cloned().collect()
        };
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        all
    }
}

fn find<'m, const N: usize, S>(
    map: &'m BySeriesHash<N, S>,
    hash: u64,
    labels: &[&str; N],
) -> Option<&'m Arc<Series<N, S>>> {
    map.get(&hash)?
        .iter()
        .find(|s| s.labels.iter().zip(labels).all(|(a, b)| **a == **b))
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (u64 keys); fold anything else in rather than lose it.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
