//! Cases: users and teams (create, look up, conflicts, unknown ids, team, active, role, password).

use conduit_store::{Role, StoreError};

use crate::support::{actor, audit_actions, new_key, new_session, new_user, Db};

pub async fn migrate_is_idempotent_and_ready(db: &Db) {
    db.store.ready().await.unwrap();
    db.store.migrate().await.unwrap();
    db.store.ready().await.unwrap();
    assert_eq!(db.store.engine(), db.engine);
    assert_eq!(db.store.version().await.unwrap(), 0);
    let changes = db.store.changes_since(0).await.unwrap();
    assert_eq!((changes.version, changes.users.len()), (0, 0));
}

pub async fn users_create_list_lookup(db: &Db) {
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

pub async fn user_subject_taken_is_conflict_and_writes_nothing(db: &Db) {
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

pub async fn user_unknown_team_is_not_found_and_writes_nothing(db: &Db) {
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

pub async fn teams_create_list_conflict(db: &Db) {
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

pub async fn user_team_set_and_cleared(db: &Db) {
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

pub async fn user_deactivated_keeps_keys(db: &Db) {
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

pub async fn user_role_changed(db: &Db) {
    let s = &db.store;
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let admin = s.set_user_role(&u.id, Role::Admin, &actor()).await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(s.user(&u.id).await.unwrap().unwrap().role, Role::Admin);
    assert_eq!(audit_actions(s).await, ["user.create", "user.update"]);
}

pub async fn set_password_ends_sessions_only(db: &Db) {
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
