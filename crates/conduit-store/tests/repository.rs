//! The repository cases, one table, each run on SQLite and on real Postgres (a fresh database
//! per case; Postgres unreachable fails the run, it never skips).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use conduit_store::{CredentialKind, Engine, Role, Store, StoreError};
use support::{actor, new_key, new_session, new_user, run_all, Case, CaseFuture, Db};

macro_rules! case {
    ($name:ident) => {
        Case {
            name: stringify!($name),
            run: |db| -> CaseFuture<'_> { Box::pin($name(db)) },
        }
    };
}

static CASES: &[Case] = &[
    case!(migrate_is_idempotent_and_ready),
    case!(users_create_list_lookup),
    case!(user_subject_taken_is_conflict_and_writes_nothing),
    case!(user_unknown_team_is_not_found_and_writes_nothing),
    case!(teams_create_list_conflict),
    case!(user_team_set_and_cleared),
    case!(user_deactivated_keeps_keys),
    case!(user_role_changed),
    case!(keys_listed_newest_first_without_sessions),
    case!(credential_unknown_user_or_team),
    case!(revoke_is_idempotent),
    case!(changes_since_orders_versions),
    case!(set_password_ends_sessions_only),
    case!(names_stored_verbatim),
    case!(touch_records_last_use_without_a_version),
    case!(audit_lists_newest_first_with_paging),
    case!(hit_rate_counts_across_handles),
    case!(listen_hears_another_handles_write),
    case!(sqlite_file_private_and_secret_free),
    case!(concurrent_writes_get_distinct_versions),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_cases_on_sqlite() {
    run_all(Engine::Sqlite, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_cases_on_postgres() {
    run_all(Engine::Postgres, CASES).await;
}

async fn audit_actions(store: &Store) -> Vec<String> {
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

async fn migrate_is_idempotent_and_ready(db: &Db) {
    db.store.ready().await.unwrap();
    db.store.migrate().await.unwrap();
    db.store.ready().await.unwrap();
    assert_eq!(db.store.engine(), db.engine);
    assert_eq!(db.store.version().await.unwrap(), 0);
    let changes = db.store.changes_since(0).await.unwrap();
    assert_eq!((changes.version, changes.users.len()), (0, 0));
}

async fn users_create_list_lookup(db: &Db) {
    let s = &db.store;
    let team = s.create_team("platform", &actor()).await.unwrap();
    let mut new = new_user("alice");
    new.team_id = Some(team.id.clone());
    new.role = Role::Auditor;
    let alice = s.create_user(&new, &actor()).await.unwrap();
    let bob = s.create_user(&new_user("bob"), &actor()).await.unwrap();
    assert_eq!((alice.version, bob.version), (1, 2));
    assert!(alice.active);
    assert_eq!(alice.role, Role::Auditor);
    assert_eq!(alice.team_id.as_deref(), Some(team.id.as_str()));
    let listed = s.list_users().await.unwrap();
    assert_eq!(listed, vec![alice.clone(), bob.clone()]);
    assert_eq!(s.user(&alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(s.user_by_subject("bob").await.unwrap(), Some(bob));
    assert_eq!(s.user("no-such-id").await.unwrap(), None);
    assert_eq!(s.user_by_subject("carol").await.unwrap(), None);
    let audit = s.list_audit(10, None).await.unwrap();
    assert_eq!(audit[1].action, "user.create");
    assert_eq!(audit[1].target.as_deref(), Some(alice.id.as_str()));
    assert_eq!(audit[1].detail["subject"], "alice");
    assert_eq!(audit[1].ip.as_deref(), Some("127.0.0.1"));
    assert!(
        !audit[1].detail.to_string().contains("argon2"),
        "no hash in the audit"
    );
}

async fn user_subject_taken_is_conflict_and_writes_nothing(db: &Db) {
    let s = &db.store;
    s.create_user(&new_user("alice"), &actor()).await.unwrap();
    let err = s
        .create_user(&new_user("alice"), &actor())
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(msg) => assert!(msg.contains("subject"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        s.version().await.unwrap(),
        1,
        "the failed write's version rolled back"
    );
    assert_eq!(s.list_users().await.unwrap().len(), 1);
    assert_eq!(audit_actions(s).await, ["user.create"]);
}

async fn user_unknown_team_is_not_found_and_writes_nothing(db: &Db) {
    let s = &db.store;
    let mut new = new_user("alice");
    new.team_id = Some("00000000-0000-0000-0000-000000000000".into());
    let err = s.create_user(&new, &actor()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "team" }),
        "{err:?}"
    );
    assert!(s.list_users().await.unwrap().is_empty());
    assert!(
        audit_actions(s).await.is_empty(),
        "no audit row without the write"
    );
    assert_eq!(s.version().await.unwrap(), 0);
}

async fn teams_create_list_conflict(db: &Db) {
    let s = &db.store;
    let a = s.create_team("alpha", &actor()).await.unwrap();
    let b = s.create_team("beta", &actor()).await.unwrap();
    assert_eq!(s.list_teams().await.unwrap(), vec![a.clone(), b]);
    assert_eq!(s.team(&a.id).await.unwrap(), Some(a));
    assert_eq!(s.team("nope").await.unwrap(), None);
    match s.create_team("alpha", &actor()).await.unwrap_err() {
        StoreError::Conflict(msg) => assert!(msg.contains("team name"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(audit_actions(s).await, ["team.create", "team.create"]);
    assert_eq!(
        s.version().await.unwrap(),
        0,
        "teams are not in the change feed"
    );
}

async fn user_team_set_and_cleared(db: &Db) {
    let s = &db.store;
    let team = s.create_team("t", &actor()).await.unwrap();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let moved = s
        .set_user_team(&u.id, Some(&team.id), &actor())
        .await
        .unwrap();
    assert_eq!(moved.team_id.as_deref(), Some(team.id.as_str()));
    assert_eq!(moved.version, 2);
    let cleared = s.set_user_team(&u.id, None, &actor()).await.unwrap();
    assert_eq!(cleared.team_id, None);
    let err = s.set_user_team("nope", None, &actor()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );
    let err = s
        .set_user_team(&u.id, Some("nope"), &actor())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "team" }),
        "{err:?}"
    );
    assert_eq!(s.version().await.unwrap(), 3);
    let entries = s.list_audit(1, None).await.unwrap();
    assert_eq!(entries[0].action, "user.team");
    assert_eq!(entries[0].detail["team_id"], serde_json::Value::Null);
}

async fn user_deactivated_keeps_keys(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let (_, key) = new_key("k", Some(&u.id), 1);
    let key = s.create_credential(&key, &actor()).await.unwrap();
    let off = s.set_user_active(&u.id, false, &actor()).await.unwrap();
    assert!(!off.active);
    let changes = s.changes_since(key.version).await.unwrap();
    assert_eq!(changes.users, vec![off.clone()]);
    assert!(changes.credentials.is_empty());
    let keys = s.list_keys(Some(&u.id)).await.unwrap();
    assert_eq!(keys, vec![key], "deactivating keeps the keys, unrevoked");
    let on = s.set_user_active(&u.id, true, &actor()).await.unwrap();
    assert!(on.active && on.version > off.version);
    let err = s
        .set_user_active("nope", false, &actor())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );
    let entries = s.list_audit(2, None).await.unwrap();
    assert_eq!(entries[0].detail["active"], true);
    assert_eq!(entries[1].detail["active"], false);
}

async fn user_role_changed(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let admin = s.set_user_role(&u.id, Role::Admin, &actor()).await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(s.user(&u.id).await.unwrap().unwrap().role, Role::Admin);
    assert_eq!(audit_actions(s).await, ["user.create", "user.update"]);
}

async fn keys_listed_newest_first_without_sessions(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let v = s.create_user(&new_user("v"), &actor()).await.unwrap();
    let mut made = Vec::new();
    for (i, owner) in [&u, &v, &u].into_iter().enumerate() {
        let (_, mut key) = new_key(&format!("k{i}"), Some(&owner.id), i as u8);
        key.rate_limit_rpm = Some(60);
        key.expires_at = Some(4_102_444_800);
        made.push(s.create_credential(&key, &actor()).await.unwrap());
    }
    let (_, session) = new_session(&u.id, 9);
    s.create_credential(&session, &actor()).await.unwrap();
    let all: Vec<String> = s
        .list_keys(None)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(all, ["k2", "k1", "k0"]);
    let mine: Vec<String> = s
        .list_keys(Some(&u.id))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(mine, ["k2", "k0"]);
    let k0 = s.credential(&made[0].id).await.unwrap().unwrap();
    assert_eq!(k0, made[0]);
    assert_eq!(
        (k0.kind, k0.rate_limit_rpm, k0.expires_at),
        (CredentialKind::Key, Some(60), Some(4_102_444_800))
    );
    assert!(k0.prefix.starts_with("sk-proxy-") && k0.prefix.ends_with("..."));
    assert_eq!(s.credential("nope").await.unwrap(), None);
    let actions = audit_actions(s).await;
    assert_eq!(
        actions[2..],
        ["key.create", "key.create", "key.create", "auth.login"]
    );
    for entry in s.list_audit(100, None).await.unwrap() {
        let text = entry.detail.to_string();
        assert!(
            !text.contains(&made[0].digest),
            "no digest in the audit detail"
        );
    }
}

async fn credential_unknown_user_or_team(db: &Db) {
    let s = &db.store;
    let (_, key) = new_key("k", Some("nope"), 1);
    let err = s.create_credential(&key, &actor()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );
    let (_, mut key) = new_key("k", None, 1);
    key.team_id = Some("nope".into());
    let err = s.create_credential(&key, &actor()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "team" }),
        "{err:?}"
    );
    assert!(s.list_keys(None).await.unwrap().is_empty());
    assert!(audit_actions(s).await.is_empty());
    assert_eq!(s.version().await.unwrap(), 0);
}

async fn revoke_is_idempotent(db: &Db) {
    let s = &db.store;
    let (_, key) = new_key("k", None, 1);
    let key = s.create_credential(&key, &actor()).await.unwrap();
    let revoked = s
        .revoke_credential(&key.id, "key.revoke", &actor())
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.version, key.version + 1);
    let again = s
        .revoke_credential(&key.id, "key.revoke", &actor())
        .await
        .unwrap();
    assert_eq!(
        again, revoked,
        "a second revoke keeps the first time and writes nothing"
    );
    assert_eq!(s.version().await.unwrap(), revoked.version);
    assert_eq!(audit_actions(s).await, ["key.create", "key.revoke"]);
    let err = s
        .revoke_credential("nope", "key.revoke", &actor())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "key" }),
        "{err:?}"
    );
}

async fn changes_since_orders_versions(db: &Db) {
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

async fn set_password_ends_sessions_only(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let other = s.create_user(&new_user("other"), &actor()).await.unwrap();
    let (_, s1) = new_session(&u.id, 1);
    let s1 = s.create_credential(&s1, &actor()).await.unwrap();
    let (_, s2) = new_session(&other.id, 2);
    let s2 = s.create_credential(&s2, &actor()).await.unwrap();
    let (_, k) = new_key("k", Some(&u.id), 3);
    let k = s.create_credential(&k, &actor()).await.unwrap();
    let before = s.version().await.unwrap();
    let changed = s
        .set_password(&u.id, "$argon2id$new", "admin.password", &actor())
        .await
        .unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(changed.version, before + 1);
    let changes = s.changes_since(before).await.unwrap();
    assert_eq!(changes.users, vec![changed.clone()]);
    assert_eq!(changes.credentials.len(), 1);
    assert_eq!(changes.credentials[0].id, s1.id);
    assert!(changes.credentials[0].revoked_at.is_some());
    assert_eq!(
        s.credential(&s2.id).await.unwrap().unwrap().revoked_at,
        None
    );
    assert_eq!(s.credential(&k.id).await.unwrap().unwrap().revoked_at, None);
    let last = &s.list_audit(1, None).await.unwrap()[0];
    assert_eq!(last.action, "admin.password");
    assert_eq!(last.detail["sessions_ended"], 1);
    assert!(!last.detail.to_string().contains("argon2"));
    let err = s
        .set_password("nope", "$x", "admin.password", &actor())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );
}

async fn names_stored_verbatim(db: &Db) {
    let s = &db.store;
    let nasty = [
        r#"o'brien"; DROP TABLE users; --"#,
        "<script>alert('x')</script>&amp;",
        "Robert'); DELETE FROM credentials WHERE ('1'='1",
        "日本語 \\ \" ' ` $1 ? %s \u{1F600}",
    ];
    for (i, name) in nasty.iter().enumerate() {
        let team = s.create_team(name, &actor()).await.unwrap();
        assert_eq!(s.team(&team.id).await.unwrap().unwrap().name, *name);
        let mut new = new_user(name);
        new.email = Some((*name).to_owned());
        let user = s.create_user(&new, &actor()).await.unwrap();
        let back = s.user_by_subject(name).await.unwrap().unwrap();
        assert_eq!(
            (back.subject.as_str(), back.email.as_deref()),
            (*name, Some(*name))
        );
        let (_, key) = new_key(name, Some(&user.id), i as u8);
        let key = s.create_credential(&key, &actor()).await.unwrap();
        assert_eq!(s.credential(&key.id).await.unwrap().unwrap().name, *name);
    }
    assert_eq!(
        s.list_users().await.unwrap().len(),
        nasty.len(),
        "no table dropped"
    );
    assert_eq!(s.list_keys(None).await.unwrap().len(), nasty.len());
    let audit = s.list_audit(1, None).await.unwrap();
    assert_eq!(audit[0].detail["name"], nasty[3]);
}

async fn touch_records_last_use_without_a_version(db: &Db) {
    let s = &db.store;
    let (_, a) = new_key("a", None, 1);
    let a = s.create_credential(&a, &actor()).await.unwrap();
    let (_, b) = new_key("b", None, 2);
    let b = s.create_credential(&b, &actor()).await.unwrap();
    let version = s.version().await.unwrap();
    let used = vec![
        (a.id.clone(), 1000),
        (b.id.clone(), 2000),
        ("nope".to_owned(), 5),
    ];
    s.touch_credentials(&used).await.unwrap();
    s.touch_credentials(&[(a.id.clone(), 500)]).await.unwrap();
    s.touch_credentials(&[]).await.unwrap();
    assert_eq!(
        s.credential(&a.id).await.unwrap().unwrap().last_used_at,
        Some(1000)
    );
    assert_eq!(
        s.credential(&b.id).await.unwrap().unwrap().last_used_at,
        Some(2000)
    );
    assert_eq!(
        s.version().await.unwrap(),
        version,
        "a touch is not a change"
    );
    assert_eq!(audit_actions(s).await.len(), 2, "nor audited");
}

async fn audit_lists_newest_first_with_paging(db: &Db) {
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

async fn hit_rate_counts_across_handles(db: &Db) {
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

async fn listen_hears_another_handles_write(db: &Db) {
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

async fn sqlite_file_private_and_secret_free(db: &Db) {
    let Some(path) = &db.path else {
        assert_eq!(db.engine, Engine::Postgres);
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let (secret, key) = new_key("k", Some(&u.id), 7);
    s.create_credential(&key, &actor()).await.unwrap();
    let (session, new) = new_session(&u.id, 8);
    s.create_credential(&new, &actor()).await.unwrap();
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database file is private");
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(b) = std::fs::read(&file) {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file} is private");
            bytes.extend(b);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&key.digest),
        "the digest is stored (sanity check of the scan)"
    );
    // Only the display prefix (16 characters) of a key is stored; nothing past it.
    assert!(!text.contains(&secret), "no key in the file");
    assert!(!text.contains(&secret[16..]), "no key secret in the file");
    assert!(
        !text.contains(&session[16..]),
        "no session secret in the file"
    );
    let second = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    second.ready().await.unwrap();
    second.close().await;
}

async fn concurrent_writes_get_distinct_versions(db: &Db) {
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
