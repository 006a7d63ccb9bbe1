//! Per-key requests per minute (`rate_limit_rpm`), counted across instances: in memory on
//! SQLite (one instance), in the store on Postgres (`Store::hit_rate`, an atomic upsert). Only
//! keys with a limit pay anything. The count is a sliding-window estimate over fixed minute
//! windows: `previous * (60 - elapsed) / 60 + current`.

use std::collections::HashMap;
use std::sync::Mutex;

use conduit_core::{Error, ErrorKind};
use conduit_store::{Engine, Store};

use super::Principal;

const WINDOW: i64 = 60;

/// One key's counts in memory: the window it is in and the one before.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    start: i64,
    current: i64,
    previous: i64,
}

/// Every limited key's counts, and the window in which they were last pruned.
#[derive(Default)]
struct LocalCounts {
    keys: HashMap<String, Counts>,
    pruned: i64,
}

enum Counter {
    /// One instance: counts in memory.
    Local(Mutex<LocalCounts>),
    /// Several instances: counts in the store.
    Shared(Store),
}

/// Admits a request under its key's `rate_limit_rpm`, or refuses it (429 + `retry-after`).
pub struct Limiter {
    counter: Counter,
}

impl Limiter {
    /// Counting in memory (one instance).
    pub fn local() -> Limiter {
        Limiter {
            counter: Counter::Local(Mutex::new(LocalCounts::default())),
        }
    }

    /// Counting in the store (several instances on one database).
    pub fn shared(store: Store) -> Limiter {
        Limiter {
            counter: Counter::Shared(store),
        }
    }

    /// In memory on SQLite, in the store on Postgres.
    pub fn for_store(store: &Store) -> Limiter {
        match store.engine() {
            Engine::Sqlite => Limiter::local(),
            Engine::Postgres => Limiter::shared(store.clone()),
        }
    }

    /// Admit one request of `principal` now.
    pub async fn admit(&self, principal: &Principal) -> Result<(), Error> {
        self.admit_at(principal, super::wire::now()).await
    }

    /// Admit one request of `principal` at `now` (Unix seconds).
    pub async fn admit_at(&self, principal: &Principal, now: i64) -> Result<(), Error> {
        let Some(rpm) = principal.rate_limit_rpm.filter(|r| *r > 0) else {
            return Ok(());
        };
        let start = now - now.rem_euclid(WINDOW);
        let elapsed = now - start;
        let key = &principal.credential_id;
        match &self.counter {
            Counter::Local(map) => {
                let mut local = map.lock().unwrap_or_else(|p| p.into_inner());
                if local.pruned != start {
                    // Once a window: keys idle for two windows count nothing any more.
                    local.pruned = start;
                    local.keys.retain(|_, c| c.start >= start - WINDOW);
                }
                let counts = local.keys.entry(key.clone()).or_default();
                roll(counts, start);
                if over(counts.previous, counts.current + 1, elapsed, rpm) {
                    return Err(refusal(rpm, elapsed));
                }
                counts.current += 1;
                Ok(())
            }
            Counter::Shared(store) => {
                let (current, previous) = store.hit_rate(key, start).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("{e}; requests of rate-limited keys are refused until it is back"),
                    )
                })?;
                if over(previous, current, elapsed, rpm) {
                    return Err(refusal(rpm, elapsed));
                }
                Ok(())
            }
        }
    }
}

/// Move `counts` into the window starting at `start`.
fn roll(counts: &mut Counts, start: i64) {
    if counts.start == start {
        return;
    }
    counts.previous = if counts.start == start - WINDOW {
        counts.current
    } else {
        0
    };
    counts.current = 0;
    counts.start = start;
}

/// Whether the estimate with this request counted in `current` is above `rpm`
/// (`previous * (60 - elapsed) / 60 + current > rpm`, in whole numbers).
fn over(previous: i64, current: i64, elapsed: i64, rpm: i64) -> bool {
    previous * (WINDOW - elapsed) + current * WINDOW > rpm * WINDOW
}

fn refusal(rpm: i64, elapsed: i64) -> Error {
    Error::limited(
        format!("this key's rate limit of {rpm} requests per minute is reached: retry later"),
        (WINDOW - elapsed).max(1) as u64,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::team::PrincipalKind;
    use conduit_store::Role;

    fn key(rpm: Option<i64>) -> Principal {
        Principal {
            credential_id: "k1".into(),
            kind: PrincipalKind::Key,
            user_id: None,
            subject: None,
            team_id: None,
            role: Role::Member,
            rate_limit_rpm: rpm,
        }
    }

    #[tokio::test]
    async fn counts_per_minute_with_a_sliding_estimate() {
        let limiter = Limiter::local();
        let k = key(Some(3));
        let t0 = 6_000; // a window start
        for _ in 0..3 {
            limiter.admit_at(&k, t0 + 10).await.unwrap();
        }
        let e = limiter.admit_at(&k, t0 + 20).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(40));
        // Next window, 1 s in: 3 * 59/60 + 1 > 3, refused; half-way: 1.5 + 1 ≤ 3, admitted.
        assert!(limiter.admit_at(&k, t0 + 61).await.is_err());
        limiter.admit_at(&k, t0 + 90).await.unwrap();
        // Two windows later the old counts are gone, and so are idle keys.
        for _ in 0..3 {
            limiter.admit_at(&k, t0 + 300).await.unwrap();
        }
        let other = Principal {
            credential_id: "k2".into(),
            ..key(Some(3))
        };
        limiter.admit_at(&other, t0 + 420).await.unwrap();
        let Counter::Local(map) = &limiter.counter else {
            panic!("local")
        };
        let keys: Vec<String> = map.lock().unwrap().keys.keys().cloned().collect();
        assert_eq!(keys, ["k2"]);
    }

    #[tokio::test]
    async fn keys_without_a_limit_are_not_counted() {
        let limiter = Limiter::local();
        for _ in 0..1000 {
            limiter.admit_at(&key(None), 6_000).await.unwrap();
        }
        let Counter::Local(map) = &limiter.counter else {
            panic!("local")
        };
        assert!(map.lock().unwrap().keys.is_empty());
    }
}
