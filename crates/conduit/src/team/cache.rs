//! Every credential and user of the team store, in memory: the hot-path lookup. A presented
//! secret is hashed (SHA-256), found by digest in a map, and its digest compared again in
//! constant time; then its state (revoked, expired, its user inactive) decides. The sync task
//! keeps the maps current and marks them fresh; when the last successful sync is older than
//! [`STALE_AFTER`], every lookup fails closed (503). Users are also found by id (the JWT tiers:
//! a token names its user), and the identity providers in a change set go to the IdP registry
//! the cache follows ([`AuthCache::follow_idps`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use conduit_core::{Error, ErrorKind};
use conduit_store::{Changes, Credential, CredentialKind, Role, Store, User};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::oidc::Registry;
use super::wire::now;
use super::Principal;

/// How old the last successful sync may be before the cache refuses to answer.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// The one refusal for a credential the gateway does not accept, whatever the reason.
const REFUSED: &str = "invalid API key: the key or session token is not valid for this gateway";

/// How often expired credentials are dropped from memory.
const PRUNE_EVERY_SECS: i64 = 60;

/// `fresh_ms` before the first successful sync.
const NEVER: u64 = u64::MAX;

/// A credential as the hot path needs it.
#[derive(Debug, Clone)]
struct Cred {
    id: String,
    kind: CredentialKind,
    digest: [u8; 32],
    user_id: Option<String>,
    team_id: Option<String>,
    rate_limit_rpm: Option<i64>,
    expires_at: Option<i64>,
}

/// A user as the cache knows them (for a token that names its user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedUser {
    pub subject: String,
    pub role: Role,
    pub team_id: Option<String>,
    pub active: bool,
}

/// A user as the hot path needs it.
#[derive(Debug, Clone)]
struct UserState {
    subject: String,
    role: Role,
    team_id: Option<String>,
    active: bool,
    version: i64,
}

#[derive(Default)]
struct Maps {
    /// Live (not revoked) credentials by the digest of their secret.
    by_digest: HashMap<[u8; 32], Cred>,
    /// Credential id → the version of its last row seen (revoked ones too, so that an older
    /// row applied late cannot bring a revoked credential back) and its digest while live.
    seen: HashMap<String, (i64, Option<[u8; 32]>)>,
    users: HashMap<String, UserState>,
    /// Revoked sign-in families (Claude Code's gateway sign-in) → when they would have ended:
    /// their access tokens are refused until then.
    revoked_families: HashMap<String, i64>,
    version: i64,
    /// When expired credentials were last dropped (Unix seconds).
    pruned_at: i64,
}

pub struct AuthCache {
    maps: RwLock<Maps>,
    /// When the cache was last known current: milliseconds since `base`, or [`NEVER`].
    base: Instant,
    fresh_ms: AtomicU64,
    /// Credential id → last use (Unix seconds), until the sync task flushes it.
    uses: Mutex<HashMap<String, i64>>,
    /// The IdP registry that receives the identity providers of each change set.
    idps: OnceLock<Arc<Registry>>,
}

/// The digest bytes of a stored lower-case hex digest (`None` if it is not one).
fn parse_digest(hex_digest: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).ok()?;
    Some(out)
}

impl AuthCache {
    pub fn new() -> AuthCache {
        AuthCache {
            maps: RwLock::new(Maps::default()),
            base: Instant::now(),
            fresh_ms: AtomicU64::new(NEVER),
            uses: Mutex::new(HashMap::new()),
            idps: OnceLock::new(),
        }
    }

    /// Hand the identity providers of every change set applied from now on to `registry`
    /// (once; later calls are ignored).
    pub fn follow_idps(&self, registry: Arc<Registry>) {
        let _ = self.idps.set(registry);
    }

    /// A user by id, or `Err(Unavailable)` when the cache is stale.
    pub fn user(&self, id: &str) -> Result<Option<CachedUser>, Error> {
        self.check_fresh()?;
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        Ok(maps.users.get(id).map(|u| CachedUser {
            subject: u.subject.clone(),
            role: u.role,
            team_id: u.team_id.clone(),
            active: u.active,
        }))
    }

    /// Look a presented secret up (a key or a session token): the principal, or the refusal
    /// to send (401 `Authentication` for unknown, revoked, expired, or an inactive user; 503
    /// `Unavailable` when the cache is stale because the store is unreachable).
    pub fn authenticate(&self, secret: &str) -> Result<Principal, Error> {
        self.check_fresh()?;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let principal = self.lookup(&digest, now()).ok_or_else(refused)?;
        self.record_use(&principal.credential_id);
        Ok(principal)
    }

    fn lookup(&self, digest: &[u8; 32], now: i64) -> Option<Principal> {
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        let cred = maps.by_digest.get(digest)?;
        if !bool::from(cred.digest.ct_eq(digest)) {
            return None;
        }
        if cred.expires_at.is_some_and(|at| now >= at) {
            return None;
        }
        let user = match &cred.user_id {
            Some(id) => Some(maps.users.get(id).filter(|u| u.active)?),
            None if cred.kind == CredentialKind::Session => return None,
            None => None,
        };
        Some(Principal {
            credential_id: cred.id.clone(),
            kind: cred.kind.into(),
            user_id: cred.user_id.clone(),
            subject: user.map(|u| u.subject.clone()),
            team_id: cred
                .team_id
                .clone()
                .or_else(|| user.and_then(|u| u.team_id.clone())),
            role: user.map_or(Role::Member, |u| u.role),
            rate_limit_rpm: cred.rate_limit_rpm,
        })
    }

    /// `Err(Unavailable)` when the last successful sync is older than [`STALE_AFTER`].
    pub fn check_fresh(&self) -> Result<(), Error> {
        let fresh = self.fresh_ms.load(Ordering::Acquire);
        let now = self.base.elapsed().as_millis() as u64;
        if fresh != NEVER && now.saturating_sub(fresh) < STALE_AFTER.as_millis() as u64 {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            "the team store is unreachable: the gateway refuses requests until it is back",
        ))
    }

    /// The store answered: the cache is current as of now.
    pub fn mark_fresh(&self) {
        let now = self.base.elapsed().as_millis() as u64;
        self.fresh_ms.store(now, Ordering::Release);
    }

    /// Forget the last sync, so lookups fail closed until the next one (tests; shutdown).
    pub fn mark_stale(&self) {
        self.fresh_ms.store(NEVER, Ordering::Release);
    }

    /// Pull and apply the store's changes now (after this instance's own write, so a revoked
    /// key is refused at once here).
    pub async fn sync_now(&self, store: &Store) -> Result<(), conduit_store::StoreError> {
        let changes = store.changes_since(self.version()).await?;
        self.apply(changes);
        Ok(())
    }

    /// Apply a change set fetched from the store (used by `sync_now` and the sync task): each
    /// row replaces an older one, and the cache is current as of now.
    pub fn apply(&self, changes: Changes) {
        if let Some(registry) = self.idps.get() {
            registry.apply(&changes.idps);
        }
        if !changes.users.is_empty()
            || !changes.credentials.is_empty()
            || !changes.revoked_families.is_empty()
        {
            let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
            for family in changes.revoked_families {
                maps.revoked_families.insert(family.id, family.ends_at);
            }
            for user in changes.users {
                maps.put_user(user);
            }
            for cred in changes.credentials {
                maps.put_credential(cred);
            }
            maps.version = maps.version.max(changes.version);
        } else if changes.version > self.version() {
            let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
            maps.version = maps.version.max(changes.version);
        }
        self.prune_expired(now());
        self.mark_fresh();
    }

    /// Drop expired credentials (sessions, mostly), at most once a minute.
    fn prune_expired(&self, now: i64) {
        let due = |maps: &Maps| now - maps.pruned_at >= PRUNE_EVERY_SECS;
        if !due(&self.maps.read().unwrap_or_else(|p| p.into_inner())) {
            return;
        }
        let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
        if !due(&maps) {
            return;
        }
        maps.pruned_at = now;
        maps.revoked_families.retain(|_, ends_at| now < *ends_at);
        let expired: Vec<[u8; 32]> = maps
            .by_digest
            .iter()
            .filter(|(_, c)| c.expires_at.is_some_and(|at| now >= at))
            .map(|(d, _)| *d)
            .collect();
        for digest in expired {
            if let Some(cred) = maps.by_digest.remove(&digest) {
                if let Some(seen) = maps.seen.get_mut(&cred.id) {
                    seen.1 = None;
                }
            }
        }
    }

    /// Whether a sign-in family was revoked (its access tokens are refused before their `exp`).
    pub fn family_revoked(&self, family_id: &str) -> bool {
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        maps.revoked_families.contains_key(family_id)
    }

    /// The change version the cache is at.
    pub fn version(&self) -> i64 {
        self.maps.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// How many live credentials and users the cache holds.
    pub fn len(&self) -> (usize, usize) {
        let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
        (maps.by_digest.len(), maps.users.len())
    }

    /// Note that a credential was used now (flushed to the store by the sync task).
    pub fn record_use(&self, credential_id: &str) {
        let now = now();
        let mut uses = self.uses.lock().unwrap_or_else(|p| p.into_inner());
        match uses.get_mut(credential_id) {
            Some(at) => *at = now,
            None => {
                uses.insert(credential_id.to_owned(), now);
            }
        }
    }

    /// The uses recorded since the last call, to write to the store.
    pub fn take_uses(&self) -> Vec<(String, i64)> {
        let mut uses = self.uses.lock().unwrap_or_else(|p| p.into_inner());
        uses.drain().collect()
    }

    /// Put back uses whose write failed (a newer use of the same credential wins).
    pub fn restore_uses(&self, used: Vec<(String, i64)>) {
        let mut uses = self.uses.lock().unwrap_or_else(|p| p.into_inner());
        for (id, at) in used {
            let entry = uses.entry(id).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
}

impl Maps {
    fn put_user(&mut self, user: User) {
        if self
            .users
            .get(&user.id)
            .is_some_and(|u| u.version > user.version)
        {
            return;
        }
        self.users.insert(
            user.id,
            UserState {
                subject: user.subject,
                role: user.role,
                team_id: user.team_id,
                active: user.active,
                version: user.version,
            },
        );
    }

    fn put_credential(&mut self, row: Credential) {
        if let Some((version, old)) = self.seen.get(&row.id).copied() {
            if version > row.version {
                return;
            }
            if let Some(old) = old {
                self.by_digest.remove(&old);
            }
        }
        // Revoked credentials (keys and ended sessions) are simply absent.
        let digest = parse_digest(&row.digest);
        if digest.is_none() {
            tracing::warn!(credential = %row.id, "skipping a credential whose digest is not hex");
        }
        let live = digest.filter(|_| row.revoked_at.is_none());
        self.seen.insert(row.id.clone(), (row.version, live));
        let Some(digest) = live else {
            return;
        };
        self.by_digest.insert(
            digest,
            Cred {
                id: row.id,
                kind: row.kind,
                digest,
                user_id: row.user_id,
                team_id: row.team_id,
                rate_limit_rpm: row.rate_limit_rpm,
                expires_at: row.expires_at,
            },
        );
    }
}

fn refused() -> Error {
    Error::new(ErrorKind::Authentication, REFUSED)
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
