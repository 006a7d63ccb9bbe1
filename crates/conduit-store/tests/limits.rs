//! Rate limits in the store, each case on SQLite and on real Postgres (a fresh database per
//! case): the `rate_limits` rows (audited), named counters, stream leases (atomic across two
//! handles), and an admission's transaction (all or nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use conduit_store::{CredentialKind, Engine, RateScope, StoreError};
use support::{actor, audit_actions, new_key, new_session, new_user, run_all, Case, Db};

static CASES: &[Case] = &[
    case!(rate_limits_set_list_delete_audited),
    case!(named_counters_add_and_read),
    case!(leases_are_counted_across_handles),
    case!(an_admission_is_all_or_nothing),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_cases_on_sqlite() {
    run_all(Engine::Sqlite, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_cases_on_postgres() {
    run_all(Engine::Postgres, CASES).await;
}

/// A listed limit: scope, id, rpm, tpm, max streams.
type Shown<'a> = (RateScope, &'a str, Option<i64>, Option<i64>, Option<i64>);

async fn rate_limits_set_list_delete_audited(db: &Db) {
    let s = &db.store;
    let user = s.create_user(&new_user("alice"), &actor()).await.unwrap();
    let team = s.create_team("crew", &actor()).await.unwrap();
    let key = s
        .create_credential(&new_key("k", Some(&user.id), 1).1, &actor())
        .await
        .unwrap();
    let session = s
        .create_credential(&new_session(&user.id, 2).1, &actor())
        .await
        .unwrap();
    assert_eq!(session.kind, CredentialKind::Session);
    let set = s
        .set_rate_limit(RateScope::User, &user.id, Some(10), None, Some(2), &actor())
        .await
        .unwrap();
    assert_eq!(
        (set.rpm, set.tpm, set.max_streams),
        (Some(10), None, Some(2))
    );
    s.set_rate_limit(RateScope::Team, &team.id, None, Some(5000), None, &actor())
        .await
        .unwrap();
    s.set_rate_limit(RateScope::Key, &key.id, Some(1), None, None, &actor())
        .await
        .unwrap();
    // Replaced whole.
    s.set_rate_limit(RateScope::User, &user.id, None, Some(900), None, &actor())
        .await
        .unwrap();
    let listed = s.list_rate_limits().await.unwrap();
    let shown: Vec<Shown> = listed
        .iter()
        .map(|l| {
            (
                l.scope_type,
                l.scope_id.as_str(),
                l.rpm,
                l.tpm,
                l.max_streams,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (RateScope::Key, key.id.as_str(), Some(1), None, None),
            (RateScope::Team, team.id.as_str(), None, Some(5000), None),
            (RateScope::User, user.id.as_str(), None, Some(900), None),
        ]
    );
    // Unknown targets (a session is not a key) are not found; nothing is written.
    for (scope, id, what) in [
        (RateScope::User, "nobody", "user"),
        (RateScope::Team, "nothing", "team"),
        (RateScope::Key, session.id.as_str(), "key"),
    ] {
        let e = s
            .set_rate_limit(scope, id, Some(1), None, None, &actor())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::NotFound { what: w } if w == what),
            "{e:?}"
        );
    }
    s.delete_rate_limit(RateScope::Team, &team.id, &actor())
        .await
        .unwrap();
    let e = s
        .delete_rate_limit(RateScope::Team, &team.id, &actor())
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { what: "rate limit" }),
        "{e:?}"
    );
    assert_eq!(s.list_rate_limits().await.unwrap().len(), 2);
    let actions = audit_actions(s).await;
    let limit_actions: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("limit."))
        .collect();
    assert_eq!(
        limit_actions,
        [
            "limit.set",
            "limit.set",
            "limit.set",
            "limit.set",
            "limit.delete"
        ]
    );
}

async fn named_counters_add_and_read(db: &Db) {
    let (a, b) = (&db.store, db.second_handle().await);
    let w = 1_800_000_000 / 60 * 60;
    assert_eq!(a.rate_counts("tpm:user:u", w).await.unwrap(), (0, 0));
    assert_eq!(a.add_rate("tpm:user:u", w, 500).await.unwrap(), (500, 0));
    assert_eq!(b.add_rate("tpm:user:u", w, 250).await.unwrap(), (750, 0));
    assert_eq!(b.rate_counts("tpm:user:u", w + 60).await.unwrap(), (0, 750));
    assert_eq!(a.hit_rate("rpm:user:u", w).await.unwrap(), (1, 0));
    assert_eq!(
        a.rate_counts("tpm:team:t", w).await.unwrap(),
        (0, 0),
        "per name"
    );
    b.close().await;
}

async fn leases_are_counted_across_handles(db: &Db) {
    let (a, b) = (db.store.clone(), db.second_handle().await);
    let now = 1_800_000_000_000;
    let until = now + 60_000;
    assert!(a
        .acquire_lease("streams:user:u", "l1", 2, now, until)
        .await
        .unwrap());
    assert!(b
        .acquire_lease("streams:user:u", "l2", 2, now, until)
        .await
        .unwrap());
    assert!(!a
        .acquire_lease("streams:user:u", "l3", 2, now, until)
        .await
        .unwrap());
    assert!(
        b.acquire_lease("streams:team:t", "l4", 1, now, until)
            .await
            .unwrap(),
        "per name"
    );
    assert_eq!(a.count_leases("streams:user:u", now).await.unwrap(), 2);
    a.release_leases(&["l1".into(), "unknown".into()])
        .await
        .unwrap();
    assert!(b
        .acquire_lease("streams:user:u", "l5", 2, now, until)
        .await
        .unwrap());
    // Expired leases do not count, and the next acquisition deletes them.
    assert_eq!(a.count_leases("streams:user:u", until).await.unwrap(), 0);
    assert!(a
        .acquire_lease("streams:user:u", "l6", 1, until, until + 1)
        .await
        .unwrap());
    assert_eq!(a.count_leases("streams:user:u", now).await.unwrap(), 1);
    // Many at once from both handles: exactly `max` are taken.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .acquire_lease("streams:key:k", &format!("c{i}"), 5, now, until)
                .await
        }));
    }
    let mut taken = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(true) => taken += 1,
            Ok(false) => {}
            // SQLite: two handles' write transactions may find the file busy.
            Err(e) if db.engine == Engine::Sqlite => eprintln!("busy: {e}"),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(taken <= 5);
    if db.engine == Engine::Postgres {
        assert_eq!(taken, 5);
    }
    assert_eq!(a.count_leases("streams:key:k", now).await.unwrap(), taken);
    b.close().await;
}

async fn an_admission_is_all_or_nothing(db: &Db) {
    let s = &db.store;
    let w = 1_800_000_000 / 60 * 60;
    let now = w * 1000;
    let mut tx = s.begin_limits().await.unwrap();
    assert_eq!(tx.hit("rpm:key:k", w).await.unwrap(), (1, 0));
    assert!(tx
        .acquire_lease("streams:key:k", "a/1", 1, now, now + 1000)
        .await
        .unwrap());
    tx.rollback().await.unwrap();
    assert_eq!(s.rate_counts("rpm:key:k", w).await.unwrap(), (0, 0));
    assert_eq!(s.count_leases("streams:key:k", now).await.unwrap(), 0);
    let mut tx = s.begin_limits().await.unwrap();
    assert_eq!(tx.hit("rpm:key:k", w).await.unwrap(), (1, 0));
    assert_eq!(tx.counts("tpm:key:k", w).await.unwrap(), (0, 0));
    assert!(tx
        .acquire_lease("streams:key:k", "a/2", 1, now, now + 1000)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert_eq!(s.rate_counts("rpm:key:k", w).await.unwrap(), (1, 0));
    assert_eq!(s.count_leases("streams:key:k", now).await.unwrap(), 1);
}
