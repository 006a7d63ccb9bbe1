//! Shared test plumbing: a fresh database per case on either engine, and row builders.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use conduit_store::testing::{temp_sqlite, TempDb};
use conduit_store::{
    Actor, CredentialKind, DeviceCode, Engine, NewCredential, NewUser, Role, Store,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// One case's database: a store on it, and how to open another handle on the same database.
pub struct Db {
    pub store: Store,
    pub engine: Engine,
    /// What `Store::open` takes to open a second handle (the SQLite path or the Postgres URL).
    pub url: String,
    /// The SQLite file (None on Postgres).
    pub path: Option<PathBuf>,
}

impl Db {
    pub async fn second_handle(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

/// A fresh, migrated database, and what keeps it alive (dropped at the end of the case).
pub enum Holder {
    Sqlite(tempfile::TempDir),
    Postgres(TempDb),
}

impl Holder {
    pub async fn close(self) {
        match self {
            Holder::Sqlite(dir) => drop(dir),
            Holder::Postgres(db) => db.close().await.unwrap(),
        }
    }
}

pub async fn fresh(engine: Engine) -> (Db, Holder) {
    match engine {
        Engine::Sqlite => {
            let (dir, path, store) = temp_sqlite().await.unwrap();
            let url = format!("sqlite://{}", path.display());
            (
                Db {
                    store,
                    engine,
                    url,
                    path: Some(path),
                },
                Holder::Sqlite(dir),
            )
        }
        Engine::Postgres => {
            let db = TempDb::create()
                .await
                .expect("the test Postgres (CONDUIT_TEST_PG_URL) must be reachable");
            let store = db.store().await.unwrap();
            let url = db.url().to_owned();
            (
                Db {
                    store,
                    engine,
                    url,
                    path: None,
                },
                Holder::Postgres(db),
            )
        }
    }
}

pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// `case!(name)`: the [`Case`] that runs `async fn name(db: &Db)`.
#[allow(unused_macros)]
macro_rules! case {
    ($name:ident) => {
        $crate::support::Case {
            name: stringify!($name),
            run: |db| -> $crate::support::CaseFuture<'_> { Box::pin($name(db)) },
        }
    };
}

/// One repository case, run on each engine against a fresh database.
pub struct Case {
    pub name: &'static str,
    pub run: for<'a> fn(&'a Db) -> CaseFuture<'a>,
}

/// How many cases run at once.
const CONCURRENT_CASES: usize = 6;

/// Run every case on `engine`, each on its own database, a few at once; fail naming the cases
/// that failed.
pub async fn run_all(engine: Engine, cases: &'static [Case]) {
    // CONDUIT_STORE_CASE=name runs the cases whose name contains it (while debugging one).
    let only = std::env::var("CONDUIT_STORE_CASE").unwrap_or_default();
    // A few at a time: each case holds a database and a handful of connections, and other
    // test binaries share the server (max_connections).
    let slots = Arc::new(Semaphore::new(CONCURRENT_CASES));
    let mut tasks = Vec::new();
    for case in cases.iter().filter(|c| c.name.contains(only.as_str())) {
        let slots = slots.clone();
        tasks.push((
            case.name,
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                let (db, holder) = fresh(engine).await;
                let started = std::time::Instant::now();
                (case.run)(&db).await;
                eprintln!("{engine:?} {}: {:?}", case.name, started.elapsed());
                db.store.close().await;
                holder.close().await;
            }),
        ));
    }
    let mut failed = Vec::new();
    for (name, task) in tasks {
        if task.await.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "{engine:?}: failed cases: {failed:?}");
}

pub fn actor() -> Actor {
    Actor {
        name: "user:admin".into(),
        user_id: None,
        ip: Some("127.0.0.1".into()),
    }
}

pub fn new_user(subject: &str) -> NewUser {
    NewUser {
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        role: Role::Member,
        team_id: None,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
    }
}

/// A virtual key as the API makes one: the secret, and the row that stores only its digest.
pub fn new_key(name: &str, user_id: Option<&str>, n: u8) -> (String, NewCredential) {
    let secret = format!("sk-proxy-{}", hex::encode([n; 32]));
    (
        secret.clone(),
        credential(CredentialKind::Key, &secret, name, user_id),
    )
}

pub fn new_session(user_id: &str, n: u8) -> (String, NewCredential) {
    let secret = format!("cst_{}", hex::encode([n; 32]));
    (
        secret.clone(),
        credential(CredentialKind::Session, &secret, "session", Some(user_id)),
    )
}

fn credential(kind: CredentialKind, secret: &str, name: &str, user: Option<&str>) -> NewCredential {
    NewCredential {
        kind,
        digest: digest(secret),
        prefix: format!("{}...", &secret[..16]),
        name: name.into(),
        user_id: user.map(str::to_owned),
        team_id: None,
        rate_limit_rpm: None,
        expires_at: None,
    }
}

/// The audit actions, oldest first.
pub async fn audit_actions(store: &Store) -> Vec<String> {
    let mut actions: Vec<String> = store
        .list_audit(1000, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    actions.reverse();
    actions
}

/// Lower-case hex SHA-256, as the binary stores every SSO secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Unix seconds now (device decisions check expiry against the real clock).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn new_idp(name: &str) -> conduit_store::NewIdp {
    conduit_store::NewIdp {
        name: name.into(),
        issuer_url: format!("https://{name}.example.com/"),
        audience: format!("{name}-aud"),
        client_id: Some(format!("{name}-client")),
        client_secret: Some(format!("{name}-very-secret")),
        auto_provision: true,
        default_role: Role::Member,
        allowed_domains: vec!["example.com".into()],
        scopes: None,
        enabled: true,
    }
}

/// A refresh family for `user_id` through the device flow, its first token's digest `refresh`,
/// ending at `ends_at`; the family id.
pub async fn issue_family(store: &Store, user_id: &str, refresh: &str, ends_at: i64) -> String {
    let t = now();
    let dev = format!("dev-{refresh}");
    let uc = format!("uc-{refresh}");
    decided_code(store, &dev, &uc, t + 600, Some(user_id), true).await;
    match store
        .poll_device_code(&digest(&dev), &digest(refresh), ends_at, t)
        .await
        .unwrap()
    {
        conduit_store::DevicePoll::Issued { family_id, .. } => family_id,
        other => panic!("expected Issued, got {other:?}"),
    }
}

/// A device code (`device`, `user_code` stored by their digests, interval 5 s) expiring at
/// `expires_at`, then approved for `user` (`None`: denied); asserts whether the decision `took`.
pub async fn decided_code(
    store: &Store,
    device: &str,
    user_code: &str,
    expires_at: i64,
    user: Option<&str>,
    took: bool,
) -> DeviceCode {
    let code = store
        .create_device_code(&digest(device), &digest(user_code), expires_at, 5)
        .await
        .unwrap();
    let decided = store
        .decide_device_code(&code.id, user, &actor())
        .await
        .unwrap();
    assert_eq!(decided, took, "decision on device code {device}");
    code
}

/// `op` on two store handles at once (`a` as "a", `b` as "b"), each in its own task; both
/// outcomes, a's first.
pub async fn race2<T, F, Fut>(a: &Store, b: &Store, op: F) -> Vec<T>
where
    F: Fn(Store, &'static str) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks =
        [(a.clone(), "a"), (b.clone(), "b")].map(|(store, who)| tokio::spawn(op(store, who)));
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// A portal flow for `state` expiring at `expires_at` (nonce `n`).
pub fn new_flow_at(state: &str, expires_at: i64) -> conduit_store::NewFlow {
    conduit_store::NewFlow {
        state_digest: digest(state),
        purpose: conduit_store::FlowPurpose::Portal,
        idp_id: "env".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        redirect_uri: "https://gw.example/oauth/callback".into(),
        binding_digest: digest("cookie"),
        target: None,
        expires_at,
    }
}
