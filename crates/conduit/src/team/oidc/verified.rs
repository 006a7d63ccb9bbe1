//! IdP tokens verified recently, by the SHA-256 of the token: the next request with the same
//! token costs a map lookup instead of a signature check and a store query. An entry lives
//! until the token's `exp`, at most [`MAX_AGE`]; the map holds at most [`CAPACITY`] entries.
//! The caller still checks the user's state on every request.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long a verification is remembered at most (seconds).
pub const MAX_AGE: i64 = 300;
/// How many verifications are remembered at most.
pub const CAPACITY: usize = 10_000;

/// A remembered verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recalled {
    pub user_id: String,
    pub idp_id: String,
}

struct Entry {
    recalled: Recalled,
    until: i64,
}

pub(super) struct Verified {
    capacity: usize,
    map: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Verified {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, digest: &[u8; 32], now: i64) -> Option<Recalled> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(digest)
            .filter(|e| now < e.until)
            .map(|e| e.recalled.clone())
    }

    pub(super) fn put(&self, digest: [u8; 32], user_id: &str, idp_id: &str, exp: i64, now: i64) {
        let until = exp.min(now + MAX_AGE);
        if until <= now {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&digest) {
            map.retain(|_, e| now < e.until);
            if map.len() >= self.capacity {
                // Still full of live entries: forget one (it is verified again when it comes).
                if let Some(victim) = map.keys().next().copied() {
                    map.remove(&victim);
                }
            }
        }
        let recalled = Recalled {
            user_id: user_id.to_owned(),
            idp_id: idp_id.to_owned(),
        };
        map.insert(digest, Entry { recalled, until });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entries_end_at_exp_or_five_minutes_and_the_map_stays_bounded() {
        let v = Verified::new(3);
        let now = 1_000;
        v.put([1; 32], "u1", "env", now + 60, now);
        v.put([2; 32], "u2", "env", now + 3600, now);
        v.put([3; 32], "u3", "env", now - 1, now);
        assert_eq!(v.get(&[1; 32], now + 59).unwrap().user_id, "u1");
        assert!(v.get(&[1; 32], now + 60).is_none(), "ends at exp");
        assert!(v.get(&[2; 32], now + MAX_AGE - 1).is_some());
        assert!(v.get(&[2; 32], now + MAX_AGE).is_none(), "ends after 5 min");
        assert!(
            v.get(&[3; 32], now).is_none(),
            "an expired token is not kept"
        );
        for i in 10..20u8 {
            v.put([i; 32], "u", "env", now + 60, now);
        }
        assert!(v.len() <= 3);
        assert!(v.get(&[19; 32], now).is_some(), "the newest is kept");
    }
}
