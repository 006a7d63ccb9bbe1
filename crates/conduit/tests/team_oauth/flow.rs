//! The sign-in itself: discovery, device authorization (shape, user codes, the per-address
//! limit), polling (pending, slow_down, denied, one winner of two racing polls, no reuse),
//! refresh rotation with the two-terminal rule, revocation, a deactivated user.

use std::net::IpAddr;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{env, env_with, Env, BASE, DEVICE_GRANT};

const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// Form fields of a request.
type Form<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn metadata_lists_both_flows_on_the_gateways_own_origin_uncached() {
    let env = env().await;
    let a = env
        .get("/.well-known/oauth-authorization-server", &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["cache-control"], "no-store");
    let m = &a.json;
    assert_eq!(m["issuer"], BASE);
    for (field, path) in [
        (
            "device_authorization_endpoint",
            "/oauth/device_authorization",
        ),
        ("token_endpoint", "/oauth/token"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("jwks_uri", "/oauth/jwks.json"),
        ("authorization_endpoint", "/oauth/authorize"),
    ] {
        assert_eq!(m[field], format!("{BASE}{path}"), "{field}");
    }
    assert_eq!(
        m["grant_types_supported"],
        json!([DEVICE_GRANT, "authorization_code", "refresh_token"])
    );
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none"]));

    // The key set publishes the key that signs the access tokens.
    let jwks = env.get("/oauth/jwks.json", &[]).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let keys = jwks.json["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let (access, _) = env.sign_in("member").await;
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    let key = keys.iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(kid.len(), 16);
}

#[tokio::test]
async fn the_public_url_is_the_origin_whatever_the_host() {
    let public = "https://gw.example.com:8443";
    let env = env_with(&[("CONDUIT_PUBLIC_URL", public)]).await;
    let m = env
        .get("/.well-known/oauth-authorization-server", &[])
        .await
        .json;
    assert_eq!(m["issuer"], public);
    assert_eq!(m["token_endpoint"], format!("{public}/oauth/token"));
    let a = env
        .form("/oauth/device_authorization", &[("surface", "claude_code")])
        .await;
    assert_eq!(a.json["verification_uri"], format!("{public}/device"));
}

#[tokio::test]
async fn device_authorization_answers_codes_to_poll_with_and_to_type() {
    let env = env().await;
    // Unknown parameters (a client_id, a scope) are ignored.
    let a = env
        .form(
            "/oauth/device_authorization",
            &[
                ("surface", "claude_code"),
                ("client_id", "x"),
                ("scope", "y"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["cache-control"], "no-store");
    let b = &a.json;
    let user_code = b["user_code"].as_str().unwrap();
    let (left, right) = user_code.split_once('-').unwrap();
    assert_eq!((left.len(), right.len()), (4, 4), "{user_code}");
    assert!(format!("{left}{right}")
        .chars()
        .all(|c| ALPHABET.contains(c)));
    assert_eq!(b["verification_uri"], format!("{BASE}/device"));
    assert_eq!(
        b["verification_uri_complete"],
        format!("{BASE}/device?user_code={user_code}")
    );
    assert_eq!(
        (b["expires_in"].as_i64(), b["interval"].as_i64()),
        (Some(600), Some(5))
    );
    let device_code = b["device_code"].as_str().unwrap();
    assert_eq!(device_code.len(), 43, "32 bytes, base64url without padding");
    // Only digests are stored: the code is found by the digest of its normalised form.
    assert!(env.device_row(user_code).await.is_some());
    let normalised: String = user_code.chars().filter(|c| *c != '-').collect();
    let by_plain = env.store.device_by_user_code(&normalised).await.unwrap();
    assert!(by_plain.is_none());
}

#[tokio::test]
async fn device_authorization_allows_30_per_address_per_ten_minutes() {
    let env = env().await;
    let (first, second): (IpAddr, IpAddr) = ([10, 9, 0, 1].into(), [10, 9, 0, 2].into());
    let path = "/oauth/device_authorization";
    for i in 0..30 {
        let a = env
            .form_from(path, &[("surface", "claude_code")], first)
            .await;
        assert_eq!(a.status, StatusCode::OK, "request {i}");
    }
    let refused = env
        .form_from(path, &[("surface", "claude_code")], first)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json, json!({"error": "slow_down"}));
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    let other = env
        .form_from(path, &[("surface", "claude_code")], second)
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

fn error_of(a: &crate::support::Answer) -> (u16, &str) {
    (a.status.as_u16(), a.json["error"].as_str().unwrap_or("-"))
}

#[tokio::test]
async fn polling_pending_slow_down_then_one_success_then_expired() {
    let env = env().await;
    let (device_code, _) = env.start_device().await;
    assert_eq!(
        error_of(&env.poll(&device_code).await),
        (400, "authorization_pending")
    );
    assert_eq!(error_of(&env.poll(&device_code).await), (400, "slow_down"));

    // Approved: of two racing polls exactly one gets the tokens, the other expired_token.
    let (racing, user_code2) = env.start_device().await;
    env.decide(&user_code2, Some("member")).await;
    let (a, b) = tokio::join!(env.poll(&racing), env.poll(&racing));
    let mut outcomes = [error_of(&a), error_of(&b)];
    outcomes.sort();
    assert_eq!(outcomes, [(200, "-"), (400, "expired_token")]);
    let won = if a.status == StatusCode::OK { &a } else { &b };
    assert_eq!(won.json["token_type"], "Bearer");
    assert_eq!(won.json["scope"], "claude-code");
    let expires_in = won.json["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(won.headers["cache-control"], "no-store");
    assert_eq!(won.headers["pragma"], "no-cache");
    let claims = env
        .team
        .signer
        .verify(won.json["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.user_id, env.users["member"]);
    // Used: never again, never pending.
    assert_eq!(error_of(&env.poll(&racing).await), (400, "expired_token"));

    // Denied.
    let (denied, denied_code) = env.start_device().await;
    env.decide(&denied_code, None).await;
    assert_eq!(error_of(&env.poll(&denied).await), (400, "access_denied"));
}

#[tokio::test]
async fn token_endpoint_refuses_bad_grants() {
    let env = env().await;
    let cases: &[(Form, (u16, &str))] = &[
        (
            &[("grant_type", DEVICE_GRANT), ("device_code", "unknown")],
            (400, "expired_token"),
        ),
        (&[("grant_type", DEVICE_GRANT)], (400, "invalid_request")),
        (
            &[("grant_type", "refresh_token"), ("refresh_token", "junk")],
            (401, "invalid_grant"),
        ),
        (&[("grant_type", "refresh_token")], (400, "invalid_request")),
        (
            &[("grant_type", "password"), ("username", "a")],
            (400, "unsupported_grant_type"),
        ),
        (
            &[("grant_type", "authorization_code"), ("code", "x")],
            (400, "invalid_request"),
        ),
        (&[], (400, "invalid_request")),
    ];
    for (pairs, expected) in cases {
        let a = env.form("/oauth/token", pairs).await;
        assert_eq!(error_of(&a), *expected, "{pairs:?}: {}", a.text);
        assert_eq!(a.headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_is_refused_alone() {
    let env = env().await;
    let (_, first) = env.sign_in("member").await;
    let a = env.refresh(&first).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let (access, second) = crate::support::tokens(&a);
    assert_ne!(second, first);
    assert_eq!(
        env.team.signer.verify(&access).unwrap().user_id,
        env.users["member"]
    );

    // The second terminal presents the spent token: refused, nothing else happens.
    let replay = env.refresh(&first).await;
    assert_eq!(error_of(&replay), (400, "invalid_grant"));
    assert!(replay.json["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    let (_, third) = crate::support::tokens(&env.refresh(&second).await);
    assert_eq!(env.refresh(&third).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revoke_ends_the_sign_in_and_always_answers_200() {
    let env = env().await;
    // By refresh token, by access token (either ends the whole family), junk, a hint.
    let (_, by_refresh) = env.sign_in("member").await;
    let (access, by_access) = env.sign_in("member").await;
    let cases: [(Form, Option<&str>); 4] = [
        (&[("token", by_refresh.as_str())], Some(by_refresh.as_str())),
        (
            &[
                ("token", access.as_str()),
                ("token_type_hint", "access_token"),
            ],
            Some(by_access.as_str()),
        ),
        (
            &[("token", "junk"), ("token_type_hint", "refresh_token")],
            None,
        ),
        (&[("token", "a.b.c")], None),
    ];
    for (pairs, dead) in cases {
        let a = env.form("/oauth/revoke", pairs).await;
        assert_eq!(
            (a.status, &a.json),
            (StatusCode::OK, &Value::Object(Default::default()))
        );
        if let Some(refresh_token) = dead {
            assert_eq!(
                error_of(&env.refresh(refresh_token).await),
                (401, "invalid_grant")
            );
        }
    }
    // This instance refuses the revoked sign-in's access token at once (no sync tick waited).
    let bearer = format!("Bearer {access}");
    let after = env
        .get("/managed/settings", &[("authorization", bearer.as_str())])
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // Revoking again is still 200.
    let again = env
        .form("/oauth/revoke", &[("token", by_refresh.as_str())])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    // Two sign-ins ended, each audited once (not the repeat, not the junk), by the client address.
    let audit = env.store.list_audit(100, None).await.unwrap();
    let revokes: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "token.revoke")
        .collect();
    assert_eq!(revokes.len(), 2);
    assert!(revokes
        .iter()
        .all(|e| e.actor == "oauth:revoke" && e.ip.as_deref() == Some("10.0.0.1")));
}

#[tokio::test]
async fn a_deactivated_users_refresh_is_refused() {
    let env: Env = env().await;
    let (_, refresh_token) = env.sign_in("member").await;
    env.store
        .set_user_active(&env.users["member"], false, &crate::support::actor())
        .await
        .unwrap();
    assert_eq!(
        error_of(&env.refresh(&refresh_token).await),
        (401, "invalid_grant")
    );
}

#[tokio::test]
async fn a_store_outage_answers_503_temporarily_unavailable() {
    let env = env().await;
    let (_, refresh_token) = env.sign_in("member").await;
    let (device_code, _) = env.start_device().await;
    env.store.close().await;
    let cases: [(&str, Form); 4] = [
        (
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        ),
        (
            "/oauth/token",
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        ),
        ("/oauth/revoke", &[("token", &refresh_token)]),
        ("/oauth/device_authorization", &[("surface", "claude_code")]),
    ];
    for (path, pairs) in cases {
        let a = env.form(path, pairs).await;
        assert_eq!(
            error_of(&a),
            (503, "temporarily_unavailable"),
            "{path} {pairs:?}"
        );
        assert!(a.headers.contains_key("retry-after"));
    }
}
