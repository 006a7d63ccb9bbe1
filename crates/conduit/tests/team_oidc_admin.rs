//! `/admin/idps` through the real router: a table of roles and bad input (403, 400, 404, 409
//! for the environment's IdP), then a story with a second in-process IdP added through the API:
//! its tokens accepted with its own audience and default role, the secret never listed,
//! disabled, enabled, deleted (its tokens refused at once), and every write audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;

use conduit_store::Role;
use jsonwebtoken::Algorithm;
use oidc_support::gateway::{assert_refused, call, env_idp, gateway, messages, Gw, AUD, DOMAIN};
use oidc_support::{good, keys, StubIdp, TestKey};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Member,
}

/// (method, path, caller, body, status, a word of the error message).
type Case = (
    &'static str,
    &'static str,
    Who,
    Option<Value>,
    u16,
    &'static str,
);

fn token(gw: &Gw, who: Who) -> &str {
    match who {
        Who::Admin => &gw.admin,
        Who::Member => &gw.member,
    }
}

fn body(issuer: &str) -> Value {
    json!({"name": "merged-b", "issuer_url": issuer, "audience": "api://merged-b",
           "client_id": "merged-web", "client_secret": "b-secret", "auto_provision": true,
           "default_role": "auditor", "allowed_domains": ["@Merged-B.example", " "]})
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_bad_input() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(Some(env_idp(&idp, true, Role::Member)), None).await;
    let b = || body("https://idp-b.example");
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/admin/idps",
            Who::Member,
            Some(b()),
            403,
            "admin role",
        ),
        (
            "GET",
            "/admin/idps",
            Who::Member,
            None,
            403,
            "admin or auditor",
        ),
        (
            "POST",
            "/admin/idps",
            Who::Admin,
            Some(without(b(), "name")),
            400,
            "name",
        ),
        (
            "POST",
            "/admin/idps",
            Who::Admin,
            Some(without(b(), "audience")),
            400,
            "audience",
        ),
        (
            "POST",
            "/admin/idps",
            Who::Admin,
            Some(without(b(), "issuer_url")),
            400,
            "issuer_url",
        ),
        (
            "POST",
            "/admin/idps",
            Who::Admin,
            Some(json!({"name": "x", "issuer_url": "http://idp.example", "audience": "a"})),
            400,
            "https",
        ),
        (
            "POST",
            "/admin/idps",
            Who::Admin,
            Some(
                json!({"name": "x", "issuer_url": "https://i", "audience": "a", "default_role": "root"}),
            ),
            400,
            "default_role",
        ),
        (
            "PATCH",
            "/admin/idps/env",
            Who::Admin,
            Some(json!({"name": "n"})),
            409,
            "environment",
        ),
        (
            "DELETE",
            "/admin/idps/env",
            Who::Admin,
            None,
            409,
            "environment",
        ),
        (
            "PATCH",
            "/admin/idps/nope",
            Who::Admin,
            Some(json!({"name": "n"})),
            404,
            "not found",
        ),
        (
            "DELETE",
            "/admin/idps/nope",
            Who::Admin,
            None,
            404,
            "not found",
        ),
        (
            "PATCH",
            "/admin/idps/nope",
            Who::Admin,
            Some(json!({})),
            400,
            "nothing to change",
        ),
    ];
    for (method, path, who, body, status, needle) in cases {
        let what = format!("{method} {path} as {who:?}");
        let r = call(&gw, method, path, token(&gw, who), body).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.json);
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{what}: {message}");
    }
    // A taken name is a 400 too.
    let first = call(&gw, "POST", "/admin/idps", &gw.admin, Some(b())).await;
    assert_eq!(first.status, 201, "{}", first.json);
    let again = call(&gw, "POST", "/admin/idps", &gw.admin, Some(b())).await;
    assert_eq!(again.status, 400, "{}", again.json);
}

fn sign_b(key: &TestKey, idp: &StubIdp, sub: &str) -> String {
    key.sign(&idp.claims(sub, "api://merged-b", "merged-b.example"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_added_through_the_api_works_until_disabled_or_deleted() {
    let k = keys();
    let env = StubIdp::start(&[&k.rs]).await;
    let key_b = TestKey::rsa(2, "b-1", Algorithm::RS256, false);
    let idp_b = StubIdp::start(&[&key_b]).await;
    let gw = gateway(Some(env_idp(&env, true, Role::Member)), None).await;

    let created = call(
        &gw,
        "POST",
        "/admin/idps",
        &gw.admin,
        Some(body(&idp_b.issuer)),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let view = &created.json;
    let id = view["id"].as_str().unwrap().to_owned();
    assert_eq!(view["source"], "admin");
    assert_eq!(view["has_client_secret"], true);
    assert_eq!(view["allowed_domains"], json!(["merged-b.example"]));
    assert!(view.get("client_secret").is_none(), "{view}");

    let list = call(&gw, "GET", "/admin/idps", &gw.admin, None).await;
    let idps = list.json["idps"].as_array().unwrap();
    let sources: Vec<(&str, &str)> = idps
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("env", "env"), (id.as_str(), "admin")]);
    assert_eq!(idps[0]["audience"], AUD);
    let text = list.json.to_string();
    assert!(
        !text.contains("b-secret") && !text.contains("web-secret"),
        "{text}"
    );

    // Both IdPs' tokens work, each with its own audience, domain and default role.
    assert_eq!(
        messages(&gw, &k.rs.sign(&good(&env, "ann"))).await.status,
        200
    );
    let token = sign_b(&key_b, &idp_b, "bob");
    assert_eq!(messages(&gw, &token).await.status, 200);
    let bob = gw.user_of(&idp_b, "bob").await.unwrap();
    assert_eq!(
        (bob.role, bob.idp_id.as_deref()),
        (Role::Auditor, Some(id.as_str()))
    );
    let wrong_domain = key_b.sign(&idp_b.claims("eve", "api://merged-b", DOMAIN));
    assert_refused(
        &messages(&gw, &wrong_domain).await,
        401,
        "env's domain at B",
        &wrong_domain,
    );

    let path = format!("/admin/idps/{id}");
    let patch = json!({"client_secret": null, "name": "merged-b2"});
    let patched = call(&gw, "PATCH", &path, &gw.admin, Some(patch)).await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(
        (&patched.json["name"], &patched.json["has_client_secret"]),
        (&json!("merged-b2"), &json!(false))
    );

    // Disabled: its tokens (even one verified before) are refused; enabled: back.
    for (enabled, status) in [(false, 401), (true, 200)] {
        let r = call(
            &gw,
            "PATCH",
            &path,
            &gw.admin,
            Some(json!({"enabled": enabled})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(
            messages(&gw, &token).await.status.as_u16(),
            status,
            "enabled {enabled}"
        );
    }

    let deleted = call(&gw, "DELETE", &path, &gw.admin, None).await;
    assert_eq!(deleted.json, json!({"deleted": true}));
    assert_refused(&messages(&gw, &token).await, 401, "deleted IdP", &token);
    let list = call(&gw, "GET", "/admin/idps", &gw.admin, None).await;
    assert_eq!(list.json["idps"].as_array().unwrap().len(), 1);

    let audit = gw.team.store.list_audit(100, None).await.unwrap();
    for action in ["idp.create", "idp.update", "idp.delete"] {
        let entry = audit
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action}"));
        assert_eq!(entry.actor, "user:admin", "{action}");
        assert!(
            !entry.detail.to_string().contains("b-secret"),
            "{action}: {}",
            entry.detail
        );
    }
}
