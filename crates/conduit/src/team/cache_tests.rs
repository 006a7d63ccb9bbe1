//! The cache's decisions over hand-made change sets.
#![allow(clippy::unwrap_used)]

use super::*;

const KEY: &str = "sk-proxy-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn user(id: &str, active: bool, version: i64) -> User {
    User {
        id: id.into(),
        subject: format!("{id}-subject"),
        email: None,
        role: Role::Admin,
        team_id: Some("team-1".into()),
        active,
        password_hash: None,
        created_at: 0,
        version,
        issuer: None,
        external_subject: None,
        idp_id: None,
    }
}

fn cred(id: &str, secret: &str, user_id: Option<&str>, version: i64) -> Credential {
    Credential {
        id: id.into(),
        kind: CredentialKind::Key,
        digest: digest_hex(secret),
        prefix: format!("{}...", &secret[..secret.len().min(16)]),
        name: "k".into(),
        user_id: user_id.map(str::to_owned),
        team_id: None,
        rate_limit_rpm: Some(5),
        created_at: 0,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        version,
    }
}

fn changes(version: i64, users: Vec<User>, credentials: Vec<Credential>) -> Changes {
    Changes {
        version,
        users,
        credentials,
        ..Changes::default()
    }
}

#[test]
fn decisions() {
    let now = now();
    let expired = Credential {
        expires_at: Some(now - 1),
        ..cred("c-exp", "sk-expired", Some("u1"), 3)
    };
    let later = Credential {
        expires_at: Some(now + 3600),
        ..cred("c-later", "sk-later", Some("u1"), 3)
    };
    let revoked = Credential {
        revoked_at: Some(now - 5),
        ..cred("c-rev", "sk-revoked", Some("u1"), 3)
    };
    let orphan_session = Credential {
        kind: CredentialKind::Session,
        ..cred("c-orphan", "cst_orphan", None, 3)
    };
    let cache = AuthCache::new();
    cache.apply(changes(
        3,
        vec![user("u1", true, 1), user("u2", false, 2)],
        vec![
            cred("c1", KEY, Some("u1"), 3),
            cred("c-owner-off", "sk-owner-off", Some("u2"), 3),
            cred("c-nobody", "sk-nobody", None, 3),
            cred("c-ghost", "sk-ghost", Some("u-missing"), 3),
            expired,
            later,
            revoked,
            orphan_session,
        ],
    ));
    let cases = [
        (KEY, Some("c1")),
        ("sk-later", Some("c-later")),
        ("sk-nobody", Some("c-nobody")),
        ("sk-expired", None),
        ("sk-revoked", None),
        ("sk-owner-off", None),
        ("sk-ghost", None),
        ("cst_orphan", None),
        ("sk-proxy-unknown", None),
        ("", None),
    ];
    for (secret, expected) in cases {
        match (cache.authenticate(secret), expected) {
            (Ok(p), Some(id)) => assert_eq!(p.credential_id, id, "{secret}"),
            (Err(e), None) => {
                assert_eq!(e.kind, ErrorKind::Authentication, "{secret}");
                assert_eq!(
                    e.message, REFUSED,
                    "{secret}: one message for every refusal"
                );
            }
            (got, want) => panic!("{secret}: got {got:?}, want {want:?}"),
        }
    }
    let p = cache.authenticate(KEY).unwrap();
    assert_eq!(p.subject.as_deref(), Some("u1-subject"));
    assert_eq!(p.role, Role::Admin);
    assert_eq!(p.team_id.as_deref(), Some("team-1"), "the user's team");
    assert_eq!(p.rate_limit_rpm, Some(5));
    let nobody = cache.authenticate("sk-nobody").unwrap();
    assert_eq!((nobody.role, nobody.subject), (Role::Member, None));
}

#[test]
fn changes_apply_incrementally_and_in_version_order() {
    let cache = AuthCache::new();
    cache.apply(changes(
        2,
        vec![user("u1", true, 1)],
        vec![cred("c1", KEY, Some("u1"), 2)],
    ));
    assert_eq!(cache.version(), 2);
    assert!(cache.authenticate(KEY).is_ok());

    // Deactivate the user: the key stops working; bring them back: it works again.
    cache.apply(changes(3, vec![user("u1", false, 3)], vec![]));
    assert!(cache.authenticate(KEY).is_err());
    cache.apply(changes(4, vec![user("u1", true, 4)], vec![]));
    assert!(cache.authenticate(KEY).is_ok());

    // Revoke; an older change set applied late does not bring the key back.
    let revoked = Credential {
        revoked_at: Some(1),
        ..cred("c1", KEY, Some("u1"), 5)
    };
    cache.apply(changes(5, vec![], vec![revoked]));
    assert!(cache.authenticate(KEY).is_err());
    cache.apply(changes(
        2,
        vec![user("u1", false, 1)],
        vec![cred("c1", KEY, Some("u1"), 2)],
    ));
    assert!(cache.authenticate(KEY).is_err());
    assert_eq!(cache.version(), 5, "the version never goes back");
    assert_eq!(cache.len(), (0, 1));
    // ...and the older user row did not replace the newer one.
    cache.apply(changes(
        6,
        vec![],
        vec![cred("c2", "sk-two", Some("u1"), 6)],
    ));
    assert!(cache.authenticate("sk-two").is_ok());
}

#[test]
fn fails_closed_when_stale() {
    let cache = AuthCache::new();
    let stale = cache.authenticate(KEY).unwrap_err();
    assert_eq!(stale.kind, ErrorKind::Unavailable, "never synced");
    assert!(stale.message.contains("team store is unreachable"));
    cache.apply(changes(
        1,
        vec![user("u1", true, 1)],
        vec![cred("c1", KEY, Some("u1"), 1)],
    ));
    assert!(cache.authenticate(KEY).is_ok());
    cache.mark_stale();
    assert_eq!(
        cache.authenticate(KEY).unwrap_err().kind,
        ErrorKind::Unavailable
    );
    // An empty change set is still a successful sync.
    cache.apply(Changes::default());
    assert!(cache.authenticate(KEY).is_ok());
}

#[test]
fn uses_are_recorded_for_the_flush() {
    let cache = AuthCache::new();
    cache.apply(changes(
        1,
        vec![user("u1", true, 1)],
        vec![cred("c1", KEY, Some("u1"), 1)],
    ));
    for _ in 0..3 {
        cache.authenticate(KEY).unwrap();
    }
    let _ = cache.authenticate("sk-unknown");
    let used = cache.take_uses();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].0, "c1");
    assert!(cache.take_uses().is_empty());
    cache.restore_uses(used);
    assert_eq!(cache.take_uses().len(), 1);
}

#[test]
fn expired_credentials_leave_memory() {
    let now = now();
    let soon = Credential {
        expires_at: Some(now + 30),
        ..cred("c-soon", "cst_soon", Some("u1"), 1)
    };
    let cache = AuthCache::new();
    cache.apply(changes(
        1,
        vec![user("u1", true, 1)],
        vec![soon, cred("c1", KEY, Some("u1"), 1)],
    ));
    assert_eq!(cache.len(), (2, 1));
    cache.prune_expired(now + 120);
    assert_eq!(cache.len(), (1, 1));
    assert!(cache.authenticate(KEY).is_ok());
}

#[test]
fn revoked_families_are_remembered_until_they_would_have_ended() {
    let cache = AuthCache::new();
    assert_eq!(cache.user("u1").unwrap_err().kind, ErrorKind::Unavailable);
    let now = now();
    let family = |id: &str, ends_at| conduit_store::RevokedFamily {
        id: id.into(),
        ends_at,
    };
    cache.apply(Changes {
        version: 3,
        users: vec![user("u1", true, 1)],
        revoked_families: vec![family("live", now + 100), family("ended", now - 1)],
        ..Changes::default()
    });
    assert!(cache.family_revoked("live"));
    assert!(
        !cache.family_revoked("ended"),
        "an ended family is forgotten"
    );
    assert!(!cache.family_revoked("other"));
    let u1 = cache.user("u1").unwrap().unwrap();
    assert_eq!((u1.role, u1.active), (Role::Admin, true));
    assert!(cache.user("nobody").unwrap().is_none());
}
