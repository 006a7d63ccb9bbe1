//! Every credential and user of the team store, in memory: the hot-path lookup. SKELETON:
//! signatures are the contract (/work/issue11-contract.md); the body is H-core's.
#![allow(unused_variables, dead_code)]

use conduit_core::Error;
use conduit_store::{Changes, Store};

use super::Principal;

pub struct AuthCache {}

impl AuthCache {
    pub fn new() -> AuthCache {
        AuthCache {}
    }

    /// Look a presented secret up (a key or a session token): the principal, or the refusal
    /// to send (401 `Authentication` for unknown, revoked, expired, or an inactive user; 503
    /// `Unavailable` when the cache is stale because the store is unreachable).
    pub fn authenticate(&self, secret: &str) -> Result<Principal, Error> {
        todo!()
    }

    /// Pull and apply the store's changes now (after this instance's own write, so a revoked
    /// key is refused at once here).
    pub async fn sync_now(&self, store: &Store) -> Result<(), conduit_store::StoreError> {
        todo!()
    }

    /// Apply a change set (used by `sync_now` and the sync task).
    pub fn apply(&self, changes: Changes) {
        todo!()
    }

    /// The change version the cache is at.
    pub fn version(&self) -> i64 {
        todo!()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}
