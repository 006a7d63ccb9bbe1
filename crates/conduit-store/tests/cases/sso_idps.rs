//! Cases: identity providers (CRUD, soft delete in the change feed, live-name conflicts) and
//! people from them (provisioning keyed on issuer and subject, e-mail refresh).

use conduit_store::{IdpPatch, NewOidcUser, Role, StoreError};

use crate::support::{actor, audit_actions, new_idp, new_user, Db};

pub async fn idp_crud_and_deleted_in_feed(db: &Db) {
    let s = &db.store;
    let a = s.create_idp(&new_idp("a"), &actor()).await.unwrap();
    let b = s.create_idp(&new_idp("b"), &actor()).await.unwrap();
    assert_eq!((a.version, b.version), (1, 2));
    assert!(!a.deleted && a.enabled && a.auto_provision);
    assert_eq!(s.list_idps().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(s.idp(&a.id).await.unwrap(), Some(a.clone()));

    let patch = IdpPatch {
        audience: Some("new-aud".into()),
        client_secret: Some(None),
        allowed_domains: Some(vec!["corp.example".into(), "example.org".into()]),
        scopes: Some(Some("openid email".into())),
        default_role: Some(Role::Auditor),
        ..IdpPatch::default()
    };
    let a2 = s.update_idp(&a.id, &patch, &actor()).await.unwrap();
    assert_eq!(a2.version, 3);
    assert_eq!(
        (
            a2.audience.as_str(),
            a2.client_secret.as_deref(),
            a2.default_role
        ),
        ("new-aud", None, Role::Auditor)
    );
    assert_eq!(a2.allowed_domains, ["corp.example", "example.org"]);
    assert_eq!(
        (a2.name.as_str(), a2.client_id.as_deref()),
        ("a", Some("a-client"))
    );
    assert_eq!(s.idp(&a.id).await.unwrap(), Some(a2.clone()));

    for err in [
        s.create_idp(&new_idp("b"), &actor()).await.unwrap_err(),
        s.update_idp(&a.id, &rename("b"), &actor())
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains("\"b\"")),
            "{err:?}"
        );
    }
    assert_eq!(s.version().await.unwrap(), 3, "conflicts write nothing");

    s.delete_idp(&b.id, &actor()).await.unwrap();
    assert_eq!(s.list_idps().await.unwrap(), vec![a2.clone()]);
    assert_eq!(s.idp(&b.id).await.unwrap(), None);
    let feed = s.changes_since(3).await.unwrap();
    assert_eq!(feed.idps.len(), 1);
    assert_eq!(
        (feed.idps[0].id.as_str(), feed.idps[0].deleted),
        (b.id.as_str(), true)
    );
    assert_eq!(feed.idps[0].version, 4);
    assert_eq!(s.changes_since(0).await.unwrap().idps.len(), 2);

    for err in [
        s.delete_idp(&b.id, &actor()).await.unwrap_err(),
        s.update_idp(&b.id, &rename("c"), &actor())
            .await
            .unwrap_err(),
        s.update_idp("nope", &rename("c"), &actor())
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(err, StoreError::NotFound { what: "idp" }),
            "{err:?}"
        );
    }
    let b2 = s.create_idp(&new_idp("b"), &actor()).await.unwrap();
    assert_ne!(b2.id, b.id, "a deleted provider's name is free again");

    assert_eq!(
        audit_actions(s).await,
        [
            "idp.create",
            "idp.create",
            "idp.update",
            "idp.delete",
            "idp.create"
        ]
    );
    let entries = s.list_audit(10, None).await.unwrap();
    for e in &entries {
        assert!(
            !e.detail.to_string().contains("very-secret"),
            "{:?}",
            e.detail
        );
    }
    let update = &entries[2].detail;
    assert_eq!(update["has_client_secret"], false);
    assert!(
        update.get("name").is_none(),
        "only the patched fields: {update}"
    );
    assert_eq!(entries[4].detail["has_client_secret"], true);
}

fn rename(name: &str) -> IdpPatch {
    IdpPatch {
        name: Some(name.into()),
        ..IdpPatch::default()
    }
}

fn oidc_user(issuer: &str, sub: &str) -> NewOidcUser {
    NewOidcUser {
        issuer: issuer.into(),
        external_subject: sub.into(),
        email: Some(format!("{sub}@example.com")),
        role: Role::Member,
        idp_id: "env".into(),
    }
}

pub async fn provisioning_keyed_on_issuer_and_subject(db: &Db) {
    let s = &db.store;
    let local = s.create_user(&new_user("local"), &actor()).await.unwrap();
    assert_eq!(
        (local.issuer.as_ref(), local.external_subject.as_ref()),
        (None, None)
    );
    let mut oidc = actor();
    oidc.name = "oidc:sso".into();
    let u = s
        .provision_oidc_user(&oidc_user("https://a.example/", "42"), &oidc)
        .await
        .unwrap();
    assert_eq!(u.subject, "42@https://a.example/");
    assert_eq!(u.issuer.as_deref(), Some("https://a.example/"));
    assert_eq!(u.external_subject.as_deref(), Some("42"));
    assert_eq!(
        (u.idp_id.as_deref(), u.password_hash.as_ref()),
        (Some("env"), None)
    );
    assert!(u.active);
    let found = s
        .user_by_identity("https://a.example/", "42")
        .await
        .unwrap();
    assert_eq!(found, Some(u.clone()));
    assert_eq!(s.user(&u.id).await.unwrap(), Some(u.clone()));
    for (iss, sub) in [("https://a.example", "42"), ("https://a.example/", "43")] {
        assert_eq!(
            s.user_by_identity(iss, sub).await.unwrap(),
            None,
            "{iss} {sub}"
        );
    }

    let before = s.version().await.unwrap();
    let err = s
        .provision_oidc_user(&oidc_user("https://a.example/", "42"), &oidc)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.version().await.unwrap(), before);
    let other = s
        .provision_oidc_user(&oidc_user("https://b.example/", "42"), &oidc)
        .await
        .unwrap();
    assert_ne!(
        other.id, u.id,
        "the same sub at another issuer is another person"
    );

    s.set_user_email(&u.id, Some("new@example.com"))
        .await
        .unwrap();
    let changes = s.changes_since(other.version).await.unwrap();
    assert_eq!(changes.users.len(), 1);
    assert_eq!(changes.users[0].email.as_deref(), Some("new@example.com"));
    s.set_user_email(&u.id, None).await.unwrap();
    assert_eq!(s.user(&u.id).await.unwrap().unwrap().email, None);
    let err = s.set_user_email("nope", None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user" }),
        "{err:?}"
    );

    let entries = s.list_audit(10, None).await.unwrap();
    let provisions: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "user.provision")
        .collect();
    assert_eq!(provisions.len(), 2, "e-mail refreshes are not audited");
    assert_eq!(provisions[1].actor, "oidc:sso");
    assert_eq!(provisions[1].target.as_deref(), Some(u.id.as_str()));
    assert_eq!(provisions[1].detail["issuer"], "https://a.example/");
}
