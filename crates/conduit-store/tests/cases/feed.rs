//! Cases: the change feed (versions, NOTIFY, concurrent writers), the audit listing, the shared
//! rate counters.

use std::time::Duration;

use conduit_store::{Engine, StoreError};

use crate::support::{actor, audit_actions, new_key, new_user, Db};

pub async fn changes_since_orders_versions(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let (_, k1) = new_key("k1", Some(&u.id), 1);
    let k1 = s.create_credential(&k1, &actor()).await.unwrap();
    let (_, k2) = new_key("k2", None, 2);
    let k2 = s.create_credential(&k2, &actor()).await.unwrap();
    let r1 = s
        .revoke_credential(&k1.id, "key.revoke", &actor())
        .await
        .unwrap();
    assert_eq!(
        [u.version, k1.version, k2.version, r1.version],
        [1, 2, 3, 4]
    );
    let all = s.changes_since(0).await.unwrap();
    assert_eq!(all.version, 4);
    assert_eq!(all.users, vec![u]);
    assert_eq!(
        all.credentials,
        vec![k2.clone(), r1.clone()],
        "ordered by version"
    );
    let later = s.changes_since(2).await.unwrap();
    assert_eq!((later.version, later.users.len()), (4, 0));
    assert_eq!(later.credentials, vec![k2, r1]);
    let none = s.changes_since(4).await.unwrap();
    assert!(none.users.is_empty() && none.credentials.is_empty());
    assert_eq!(none.version, 4);
}

pub async fn listen_hears_another_handles_write(db: &Db) {
    let Some(mut listener) = db.store.listen().await.unwrap() else {
        assert_eq!(db.engine, Engine::Sqlite, "only SQLite has no listener");
        return;
    };
    let other = db.second_handle().await;
    let user = other.create_user(&new_user("u"), &actor()).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
    assert_eq!(heard.expect("NOTIFY within 1 s").unwrap(), user.version);
    // A failed write announces nothing; the next write announces its own version.
    other
        .create_user(&new_user("u"), &actor())
        .await
        .unwrap_err();
    let team = other.create_team("t", &actor()).await.unwrap();
    let (_, key) = new_key("k", None, 1);
    let key = other.create_credential(&key, &actor()).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
    assert_eq!(heard.expect("NOTIFY within 1 s").unwrap(), key.version);
    assert_eq!(key.version, user.version + 1);
    assert!(!team.id.is_empty());
    other.close().await;
}

pub async fn concurrent_writes_get_distinct_versions(db: &Db) {
    let a = db.store.clone();
    let b = db.second_handle().await;
    let mut tasks = Vec::new();
    for i in 0..24u8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let (_, key) = new_key(&format!("k{i}"), None, i);
            store
                .create_credential(&key, &actor())
                .await
                .unwrap()
                .version
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=24).collect::<Vec<i64>>(),
        "one version per write, none lost"
    );
    let changes = a.changes_since(0).await.unwrap();
    assert_eq!((changes.version, changes.credentials.len()), (24, 24));
    assert_eq!(audit_actions(&a).await.len(), 24);
    b.close().await;
}

pub async fn audit_lists_newest_first_with_paging(db: &Db) {
    let s = &db.store;
    for i in 0..5 {
        let detail = serde_json::json!({ "n": i, "quote": "'\"<b>" });
        s.audit(&actor(), "auth.login_failed", Some("someone"), detail)
            .await
            .unwrap();
    }
    let all = s.list_audit(100, None).await.unwrap();
    let ns: Vec<i64> = all
        .iter()
        .map(|e| e.detail["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [4, 3, 2, 1, 0]);
    assert!(all
        .windows(2)
        .all(|w| (w[0].at_ms, &w[0].id) > (w[1].at_ms, &w[1].id)));
    assert_eq!(all[0].detail["quote"], "'\"<b>");
    let page = s.list_audit(2, None).await.unwrap();
    assert_eq!(page, all[..2]);
    let next = s.list_audit(2, Some(&page[1].id)).await.unwrap();
    assert_eq!(next, all[2..4]);
    let last = s.list_audit(2, Some(&next[1].id)).await.unwrap();
    assert_eq!(last, all[4..]);
    assert!(s.list_audit(0, None).await.unwrap().is_empty());
    let err = s.list_audit(2, Some("nope")).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "audit entry"
            }
        ),
        "{err:?}"
    );
}

pub async fn hit_rate_counts_across_handles(db: &Db) {
    let a = &db.store;
    let b = db.second_handle().await;
    let w = 1_800_000_000 / 60 * 60;
    assert_eq!(a.hit_rate("k1", w - 60).await.unwrap(), (1, 0));
    assert_eq!(b.hit_rate("k1", w - 60).await.unwrap(), (2, 0));
    assert_eq!(a.hit_rate("k1", w).await.unwrap(), (1, 2));
    assert_eq!(b.hit_rate("k1", w).await.unwrap(), (2, 2));
    assert_eq!(a.hit_rate("k2", w).await.unwrap(), (1, 0), "per key");
    // Many at once from both handles: every hit counted exactly once.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store.hit_rate("k3", w).await.unwrap().0
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<i64>>());
    assert_eq!(a.prune_rates(w).await.unwrap(), 1, "the older window of k1");
    assert_eq!(a.hit_rate("k1", w).await.unwrap(), (3, 0));
    b.close().await;
}
