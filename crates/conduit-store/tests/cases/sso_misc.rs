//! Cases: signing keys, the managed-settings policy, and pruning what has expired.

use conduit_store::{CliPoll, DevicePoll, SigningKey, StoreError};
use serde_json::json;

use crate::support::{actor, audit_actions, digest, issue_family, new_flow_at, new_user, now, Db};

fn key(kid: &str, created_at: i64, expires_at: i64) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        private_pkcs8: vec![0x30, 0x51, kid.len() as u8, 0xff],
        public_key: vec![0, 1, 2, 254],
        created_at,
        expires_at,
    }
}

pub async fn signing_keys_newest_first_expired_excluded(db: &Db) {
    let s = &db.store;
    let t = now();
    let (k1, k2, k3) = (
        key("k1", t, t + 100),
        key("k2", t + 10, t + 200),
        key("k3", t + 20, t + 30),
    );
    for k in [&k1, &k2, &k3] {
        s.insert_signing_key(k).await.unwrap();
    }
    let err = s.insert_signing_key(&k1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // (when, the keys then, newest first)
    let table = [
        (t + 25, vec![k3.clone(), k2.clone(), k1.clone()]),
        (t + 50, vec![k2.clone(), k1.clone()]),
        (t + 150, vec![k2.clone()]),
        (t + 200, vec![]),
    ];
    for (at, want) in table {
        assert_eq!(s.signing_keys(at).await.unwrap(), want, "at t+{}", at - t);
    }
}

pub async fn managed_settings_set_get_delete(db: &Db) {
    let s = &db.store;
    assert_eq!(s.managed_settings().await.unwrap(), None);
    let v1 = json!({ "env": { "TOKEN": "hush-hush" }, "permissions": { "deny": ["Bash"] } });
    s.set_managed_settings(Some(&v1), &actor()).await.unwrap();
    let got = s.managed_settings().await.unwrap().unwrap();
    assert_eq!(got.settings, v1);
    assert!(got.updated_at >= now() - 5);
    let v2 = json!({ "model": "opus" });
    s.set_managed_settings(Some(&v2), &actor()).await.unwrap();
    assert_eq!(s.managed_settings().await.unwrap().unwrap().settings, v2);
    s.set_managed_settings(None, &actor()).await.unwrap();
    assert_eq!(s.managed_settings().await.unwrap(), None);
    s.set_managed_settings(None, &actor()).await.unwrap();
    assert_eq!(
        audit_actions(s).await,
        [
            "managed_settings.set",
            "managed_settings.set",
            "managed_settings.delete",
            "managed_settings.delete"
        ]
    );
    let entries = s.list_audit(10, None).await.unwrap();
    assert_eq!(entries[3].detail["keys"], json!(["env", "permissions"]));
    assert!(entries
        .iter()
        .all(|e| !e.detail.to_string().contains("hush")));
    assert_eq!(
        (
            entries[1].detail["existed"].clone(),
            entries[0].detail["existed"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(
        s.version().await.unwrap(),
        0,
        "not a change of who may call"
    );
}

pub async fn prune_expired_deletes_only_the_expired(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    for (state, exp) in [("old", t), ("new", t + 600)] {
        s.create_flow(&new_flow_at(state, exp)).await.unwrap();
    }
    for (dev, exp) in [("d-old", t - 1), ("d-new", t + 600)] {
        s.create_device_code(&digest(dev), &digest(&format!("u-{dev}")), exp, 5)
            .await
            .unwrap();
    }
    for (challenge, exp) in [("c-old", t), ("c-new", t + 300)] {
        s.create_cli_session(&digest(challenge), &digest("b"), exp)
            .await
            .unwrap();
    }
    let ended = issue_family(s, &u.id, "e0", t + 10).await;
    s.rotate_refresh(&digest("e0"), &digest("e1"), t)
        .await
        .unwrap();
    let live = issue_family(s, &u.id, "l0", t + 3600).await;
    // The consumed device codes of the two families expire at t+600 like "d-new".
    let pruned = s.prune_expired(t + 10).await.unwrap();
    // 1 flow + 1 device code + 1 CLI session + 2 tokens and 1 family.
    assert_eq!(pruned, 6);
    assert_eq!(s.prune_expired(t + 10).await.unwrap(), 0);
    assert_eq!(
        s.take_flow(&digest("new"), t)
            .await
            .unwrap()
            .map(|f| f.nonce),
        Some("n".into())
    );
    let polled = s
        .poll_device_code(&digest("d-new"), &digest("x"), t + 99, t)
        .await
        .unwrap();
    assert_eq!(polled, DevicePoll::Pending);
    assert_eq!(
        s.take_cli_session(&digest("c-new"), t).await.unwrap(),
        CliPoll::Pending
    );
    assert_eq!(
        s.take_cli_session(&digest("c-old"), t).await.unwrap(),
        CliPoll::NotFound
    );
    assert!(!s.family_alive(&ended, t).await.unwrap());
    assert!(s.family_alive(&live, t).await.unwrap());
    let got = s
        .rotate_refresh(&digest("e1"), &digest("e2"), t)
        .await
        .unwrap();
    assert_eq!(
        got,
        conduit_store::RefreshOutcome::Invalid,
        "pruned tokens are unknown"
    );
}
