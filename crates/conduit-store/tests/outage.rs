//! The store when its database goes away: an unreachable Postgres is `Unavailable` (not a hang,
//! not a 500), and a store recovers by itself once a stopped server is back, no reopen needed.
//! The stop-and-start case runs its own throwaway cluster (`scripts/postgres.sh throwaway`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use conduit_store::{Store, StoreError};
use support::{actor, new_key, new_user};

/// A guard against hangs (not a performance assertion): an unreachable server must not block.
const HANG: Duration = Duration::from_secs(20);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

fn cluster(command: &str, dir: &Path) -> String {
    let out = Command::new("bash")
        .arg(script())
        .arg(command)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postgres.sh {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Stops and deletes the throwaway cluster even when the test fails.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("remove")
            .arg(&self.0)
            .output();
    }
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing listens there once the probe listener is dropped.
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let opened = tokio::time::timeout(HANG, Store::open(&url))
        .await
        .expect("no hang");
    let err = opened.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        err.to_string().starts_with("the team store is unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn closed_store_is_unavailable() {
    let (_dir, _path, store) = conduit_store::testing::temp_sqlite().await.unwrap();
    store.close().await;
    let err = store.list_users().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = store.ready().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn unmigrated_database_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("new.db").display().to_string())
        .await
        .unwrap();
    match store.ready().await.unwrap_err() {
        StoreError::Internal(msg) => assert!(msg.starts_with("migrations:"), "{msg}"),
        other => panic!("expected the migrations reason, got {other:?}"),
    }
    store.migrate().await.unwrap();
    store.ready().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_then_back_recovers_without_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pg");
    let url = cluster("throwaway", &dir);
    let _cluster = Cluster(dir.clone());
    let store = Store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let user = store.create_user(&new_user("u"), &actor()).await.unwrap();
    let mut listener = store.listen().await.unwrap().unwrap();

    cluster("stop", &dir);
    let err = tokio::time::timeout(HANG, store.list_users())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let (_, key) = new_key("during the outage", Some(&user.id), 1);
    let err = tokio::time::timeout(HANG, store.create_credential(&key, &actor()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = tokio::time::timeout(HANG, store.ready())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = tokio::time::timeout(HANG, listener.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");

    cluster("start", &dir);
    store.ready().await.unwrap();
    assert_eq!(store.list_users().await.unwrap(), vec![user.clone()]);
    assert!(
        store.list_keys(None).await.unwrap().is_empty(),
        "the failed create left nothing"
    );
    assert!(store
        .list_audit(10, None)
        .await
        .unwrap()
        .iter()
        .all(|e| e.action != "key.create"));
    // After the error the caller listens again (its poll covers the gap): writes are heard.
    let mut listener = store.listen().await.unwrap().unwrap();
    let other = Store::open(&url).await.unwrap();
    let key = other.create_credential(&key, &actor()).await.unwrap();
    let heard = tokio::time::timeout(HANG, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, key.version);
    let changes = store.changes_since(user.version).await.unwrap();
    assert_eq!(changes.credentials, vec![key]);
    other.close().await;
    store.close().await;
}
