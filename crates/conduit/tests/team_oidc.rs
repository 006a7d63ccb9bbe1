//! The OIDC tier through the real router (`routes::router`) over a real SQLite team store, with
//! an in-process IdP (`oidc_support`) serving discovery and a JWKS whose fetches it counts: one
//! table of good and bad tokens on `/v1/messages` (status, error type, `x-should-retry`,
//! nothing upstream and nobody provisioned when refused), then stories: provisioning with the
//! default role and the admin API with an IdP token, the e-mail refreshed, no-provision and
//! deactivated 403s (key sets: team_oidc_jwks.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;

use conduit_store::Role;
use jsonwebtoken::Algorithm;
use oidc_support::gateway::{assert_refused, call, env_idp, gateway, messages, AUD, DOMAIN};
use oidc_support::{forge_none, good, keys, now, set, Keys, StubIdp};
use serde_json::{json, Value};

type Build = Box<dyn Fn(&Keys, &StubIdp, &str) -> String>;

/// (case, expected status, token for a fresh subject).
fn cases() -> Vec<(&'static str, u16, Build)> {
    let edit = |k: &'static str, v: Value| -> Build {
        Box::new(move |keys, idp, sub| keys.rs.sign(&set(good(idp, sub), k, v.clone())))
    };
    let t = now();
    vec![
        ("RS256", 200, Box::new(|k, i, s| k.rs.sign(&good(i, s)))),
        ("ES256", 200, Box::new(|k, i, s| k.es.sign(&good(i, s)))),
        (
            "EdDSA, JWK without alg",
            200,
            Box::new(|k, i, s| k.ed.sign(&good(i, s))),
        ),
        (
            "PS256 on a bare RSA key",
            200,
            Box::new(|k, i, s| k.bare.sign(&good(i, s))),
        ),
        (
            "aud array with azp",
            200,
            Box::new(|k, i, s| {
                k.rs.sign(&set(
                    set(good(i, s), "aud", json!([AUD, "other"])),
                    "azp",
                    json!(AUD),
                ))
            }),
        ),
        (
            "expired 20 s ago (60 s skew)",
            200,
            edit("exp", json!(t - 20)),
        ),
        (
            "email from preferred_username",
            200,
            Box::new(|k, i, s| {
                let c = set(good(i, s), "email", Value::Null);
                k.rs.sign(&set(
                    c,
                    "preferred_username",
                    json!(format!("{s}@{DOMAIN}")),
                ))
            }),
        ),
        (
            "email from upn, domain case ignored",
            200,
            Box::new(|k, i, s| {
                let c = set(good(i, s), "email", Value::Null);
                k.rs.sign(&set(c, "upn", json!(format!("{s}@CORP.Example"))))
            }),
        ),
        (
            "alg none",
            401,
            Box::new(|k, i, s| forge_none(&k.rs.kid, &good(i, s))),
        ),
        (
            "HS256 keyed with the public key",
            401,
            Box::new(|k, i, s| k.rs.forge_hs256(&good(i, s))),
        ),
        (
            "RS512 where the JWK says RS256",
            401,
            Box::new(|k, i, s| k.rs.sign_as(Algorithm::RS512, "rs-1", &good(i, s))),
        ),
        (
            "another key under a published kid",
            401,
            Box::new(|k, i, s| k.bare.sign_as(Algorithm::RS256, "rs-1", &good(i, s))),
        ),
        (
            "unknown issuer",
            401,
            edit("iss", json!("http://127.0.0.1:9/elsewhere")),
        ),
        (
            "issuer with a trailing slash",
            401,
            Box::new(|k, i, s| {
                k.rs.sign(&set(good(i, s), "iss", json!(format!("{}/", i.issuer))))
            }),
        ),
        ("wrong aud", 401, edit("aud", json!("api://someone-else"))),
        (
            "the client id as aud",
            401,
            edit("aud", json!("conduit-web")),
        ),
        (
            "aud array without azp",
            401,
            edit("aud", json!([AUD, "other"])),
        ),
        ("no aud", 401, edit("aud", Value::Null)),
        ("expired an hour ago", 401, edit("exp", json!(t - 3600))),
        ("nbf in an hour", 401, edit("nbf", json!(t + 3600))),
        ("iat in an hour", 401, edit("iat", json!(t + 3600))),
        (
            "over 16 KiB, validly signed",
            401,
            edit("pad", json!("x".repeat(17_000))),
        ),
        (
            "outside domain",
            401,
            edit("email", json!("eve@outside.example")),
        ),
        (
            "the last @ decides",
            401,
            edit("email", json!("m@corp.example@outside.example")),
        ),
        (
            "email_verified false",
            401,
            edit("email_verified", json!(false)),
        ),
        (
            "no e-mail while domains are limited",
            401,
            edit("email", Value::Null),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_table() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs, &k.bare, &k.es, &k.ed]).await;
    let gw = gateway(Some(env_idp(&idp, true, Role::Auditor)), None).await;
    let store = &gw.team.store;
    for (n, (case, status, build)) in cases().into_iter().enumerate() {
        let sub = format!("case-{n}");
        let token = build(&k, &idp, &sub);
        let calls = gw.upstream.call_count();
        let r = messages(&gw, &token).await;
        let user = store.user_by_identity(&idp.issuer, &sub).await.unwrap();
        if status == 200 {
            assert_eq!(r.status, 200, "{case}: {}", r.json);
            let user = user.unwrap_or_else(|| panic!("{case}: not provisioned"));
            assert_eq!(user.role, Role::Auditor, "{case}");
            assert_eq!(user.subject, format!("{sub}@{}", idp.issuer), "{case}");
            let email = user.email.unwrap().to_ascii_lowercase();
            assert_eq!(email, format!("{sub}@{DOMAIN}"), "{case}");
        } else {
            assert_refused(&r, status, case, &token);
            assert_eq!(
                gw.upstream.call_count(),
                calls,
                "{case}: reached the upstream"
            );
            assert!(user.is_none(), "{case}: provisioned");
        }
    }
    assert_eq!(idp.fetches(), 1, "every key was in the first fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_user_signs_in_to_the_admin_api_and_email_follows_the_token() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(Some(env_idp(&idp, true, Role::Auditor)), None).await;
    let token = k.rs.sign(&good(&idp, "ada"));
    assert_eq!(messages(&gw, &token).await.status, 200);
    let me = call(&gw, "GET", "/auth/me", &token, None).await;
    assert_eq!(me.status, 200, "{}", me.json);
    assert_eq!(me.json["role"], "auditor", "{}", me.json);
    let user_id = me.json["user_id"].as_str().unwrap().to_owned();
    // An auditor reads the admin API with the IdP token, and may not write.
    let users = call(&gw, "GET", "/admin/users", &token, None).await;
    assert_eq!(users.status, 200, "{}", users.json);
    let created = call(
        &gw,
        "POST",
        "/admin/users",
        &token,
        Some(json!({"subject": "x"})),
    )
    .await;
    assert_eq!(created.status, 403, "{}", created.json);
    // Audited with the IdP as the actor.
    let audit = gw.team.store.list_audit(50, None).await.unwrap();
    let provision = audit.iter().find(|e| e.action == "user.provision").unwrap();
    assert_eq!(provision.actor, "oidc:sso");
    assert_eq!(provision.target.as_deref(), Some(user_id.as_str()));
    // The same person with a new address: found by (iss, sub), the e-mail refreshed.
    let moved = set(good(&idp, "ada"), "email", json!(format!("ada.l@{DOMAIN}")));
    assert_eq!(messages(&gw, &k.rs.sign(&moved)).await.status, 200);
    let user = gw.user_of(&idp, "ada").await.unwrap();
    assert_eq!(
        (user.id, user.email),
        (user_id, Some(format!("ada.l@{DOMAIN}")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_people_without_provisioning_and_deactivated_users_get_403() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let strict = gateway(Some(env_idp(&idp, false, Role::Member)), None).await;
    let token = k.rs.sign(&good(&idp, "stranger"));
    let r = messages(&strict, &token).await;
    assert_refused(&r, 403, "no auto-provisioning", &token);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no account") && message.contains("ask an admin"),
        "{message}"
    );
    assert!(strict.user_of(&idp, "stranger").await.is_none());

    let gw = gateway(Some(env_idp(&idp, true, Role::Member)), None).await;
    let token = k.rs.sign(&good(&idp, "leaver"));
    assert_eq!(messages(&gw, &token).await.status, 200);
    let user = gw.user_of(&idp, "leaver").await.unwrap();
    let actor = team_support::system();
    gw.team
        .store
        .set_user_active(&user.id, false, &actor)
        .await
        .unwrap();
    gw.team.cache.sync_now(&gw.team.store).await.unwrap();
    // The remembered verification still checks the user; a fresh token too.
    for (what, token) in [
        ("same token", token),
        ("fresh token", k.rs.sign(&good(&idp, "leaver"))),
    ] {
        assert_refused(&messages(&gw, &token).await, 403, what, &token);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_tokens_pass_the_guard_until_revoked_and_never_the_admin_api() {
    let gw = gateway(None, None).await;
    let store = &gw.team.store;
    let admin = store.user_by_subject("admin").await.unwrap().unwrap();
    let (token, _) = gw.team.signer.sign(&admin.id, "family-1").unwrap();
    assert_eq!(messages(&gw, &token).await.status, 200);
    // A gateway access token is not an admin credential, even an admin's.
    let users = call(&gw, "GET", "/admin/users", &token, None).await;
    assert_refused(&users, 401, "gateway token on /admin", &token);
    // Its family revoked (as the change feed says): refused before its exp.
    gw.team.cache.apply(conduit_store::Changes {
        version: gw.team.cache.version(),
        revoked_families: vec![conduit_store::RevokedFamily {
            id: "family-1".into(),
            ends_at: now() + 3600,
        }],
        ..Default::default()
    });
    assert_refused(&messages(&gw, &token).await, 401, "revoked family", &token);
    // Another family of a deactivated user: refused too.
    let (token, _) = gw.team.signer.sign(&admin.id, "family-2").unwrap();
    let actor = team_support::system();
    store
        .set_user_active(&admin.id, false, &actor)
        .await
        .unwrap();
    gw.team.cache.sync_now(store).await.unwrap();
    assert_refused(
        &messages(&gw, &token).await,
        401,
        "deactivated user",
        &token,
    );
}
