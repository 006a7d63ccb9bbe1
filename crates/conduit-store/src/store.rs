//! The store handle and its calls. SKELETON: bodies are filled in by the store owner; the
//! signatures are the contract (/work/issue11-contract.md).
#![allow(unused_variables, clippy::unused_async)]

use std::path::Path;

use crate::{
    Actor, AuditEntry, Changes, Credential, NewCredential, NewUser, StoreError, Team, User,
};

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A cheap-to-clone handle on the team store (a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    engine: Engine,
}

/// Wakes an instance when another one wrote (Postgres NOTIFY on channel `conduit_auth`).
pub struct ChangeListener {}

impl ChangeListener {
    /// The next change version announced; `Err` when the connection dropped (the caller
    /// reconnects after a pause and polls meanwhile).
    pub async fn recv(&mut self) -> Result<i64, StoreError> {
        todo!()
    }
}

impl Store {
    /// Open `url`: `sqlite://PATH` / a bare path (created 0600, WAL, busy timeout) or
    /// `postgres://…`. Does not migrate.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        todo!()
    }

    /// Open (creating) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        todo!()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Apply the embedded migrations not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        todo!()
    }

    /// `Ok(())` when the database answers and every embedded migration is applied; else why not.
    pub async fn ready(&self) -> Result<(), StoreError> {
        todo!()
    }

    /// Postgres only: a listener for other instances' writes. `Ok(None)` on SQLite.
    pub async fn listen(&self) -> Result<Option<ChangeListener>, StoreError> {
        todo!()
    }

    // ---- change feed ----

    /// Every user and credential whose row version is above `version` (all rows for 0).
    pub async fn changes_since(&self, version: i64) -> Result<Changes, StoreError> {
        todo!()
    }

    // ---- users ----

    /// `Conflict` when the subject is taken; `NotFound{what:"team"}` for an unknown team.
    pub async fn create_user(&self, new: &NewUser, actor: &Actor) -> Result<User, StoreError> {
        todo!()
    }
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        todo!()
    }
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        todo!()
    }
    pub async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError> {
        todo!()
    }
    /// `NotFound` for an unknown user or team; `None` takes the user out of their team.
    pub async fn set_user_team(
        &self,
        id: &str,
        team_id: Option<&str>,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        todo!()
    }
    /// Deactivate (`false`) or bring back (`true`) a user.
    pub async fn set_user_active(
        &self,
        id: &str,
        active: bool,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        todo!()
    }
    /// Replace a user's password hash (and revoke their sessions), audited as `action`.
    pub async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        todo!()
    }

    // ---- teams ----

    /// `Conflict` when the name is taken.
    pub async fn create_team(&self, name: &str, actor: &Actor) -> Result<Team, StoreError> {
        todo!()
    }
    pub async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        todo!()
    }
    pub async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        todo!()
    }

    // ---- credentials (virtual keys and sessions) ----

    /// Insert a credential. Keys are audited (`key.create`) with `actor`; sessions with
    /// `auth.login`. `NotFound` for an unknown user or team.
    pub async fn create_credential(
        &self,
        new: &NewCredential,
        actor: &Actor,
    ) -> Result<Credential, StoreError> {
        todo!()
    }
    /// Virtual keys (not sessions), newest first; only `user_id`'s when given.
    pub async fn list_keys(&self, user_id: Option<&str>) -> Result<Vec<Credential>, StoreError> {
        todo!()
    }
    pub async fn credential(&self, id: &str) -> Result<Option<Credential>, StoreError> {
        todo!()
    }
    /// Revoke a key or end a session (idempotent: a second call keeps the first time),
    /// audited as `action` (`key.revoke`, `auth.logout`).
    pub async fn revoke_credential(
        &self,
        id: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<Credential, StoreError> {
        todo!()
    }
    /// Record last use, batched: `(credential id, unix seconds)`. Not a change (no version).
    pub async fn touch_credentials(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        todo!()
    }

    // ---- audit ----

    /// Audit an action that writes nothing else (a failed login, say).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        todo!()
    }
    /// Newest first, at most `limit`, older than the entry `before` when given.
    pub async fn list_audit(
        &self,
        limit: i64,
        before: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        todo!()
    }

    // ---- shared rate counters ----

    /// Count one request of `key_id` in the minute window starting at `window_start` (Unix
    /// seconds, a multiple of 60) and return `(this window's count including this one, the
    /// previous window's count)`. Atomic across instances.
    pub async fn hit_rate(
        &self,
        key_id: &str,
        window_start: i64,
    ) -> Result<(i64, i64), StoreError> {
        todo!()
    }
}
