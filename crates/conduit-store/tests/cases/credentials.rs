//! Cases: keys and sessions (list order, unknown owners, revoke, touch, verbatim names, the
//! SQLite file's mode and contents).

use conduit_store::{CredentialKind, Engine, Store, StoreError};

use crate::support::{actor, audit_actions, new_key, new_session, new_user, Db};

pub async fn keys_listed_newest_first_without_sessions(db: &Db) {
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

pub async fn credential_unknown_user_or_team(db: &Db) {
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

pub async fn revoke_is_idempotent(db: &Db) {
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

pub async fn touch_records_last_use_without_a_version(db: &Db) {
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

pub async fn names_stored_verbatim(db: &Db) {
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

pub async fn sqlite_file_private_and_secret_free(db: &Db) {
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
