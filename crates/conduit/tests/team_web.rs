//! Team mode's browser pages through the real router: portal password sign-in (cookie flags,
//! escaping, the page headers), logout, CSRF, `/device` with a portal session (approve, deny,
//! unknown code, the per-IP limit), the callback's browser binding, and the served scripts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
mod team_web_support;

use axum::http::StatusCode;
use conduit_store::{DeviceStatus, FlowPurpose, NewFlow, Role};
use team_support::sha256_hex as sha;
use team_web_support::{Browser, Gw};

const IP: [u8; 4] = [10, 9, 8, 7];

#[tokio::test]
async fn portal_password_sign_in_sets_the_cookie_and_renders_the_name_inert() {
    for tls in [false, true] {
        let gw = Gw::new(tls).await;
        let name = "<script>alert(1)</script>";
        gw.user(name, Role::Member).await;
        let mut b = Browser::new(IP);
        let r = b.sign_in(&gw, name).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(r.header("location"), "/portal");
        let cookie = r.set_cookie("conduit_session").unwrap();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(flag), "{cookie}");
        }
        assert_eq!(cookie.contains("Secure"), tls, "{cookie}");
        let page = b.get(&gw, "/portal").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.text.contains("<script>alert"), "{}", page.text);
        assert!(page.text.contains("(member)"));
        let csp = page.header("content-security-policy");
        assert!(
            csp.starts_with("default-src 'none'; style-src 'self'; script-src 'self'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        for (header, want) in [
            ("x-frame-options", "DENY"),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(page.header(header), want, "{header}");
        }
        assert!(gw.audit().await.contains(&"auth.login".to_owned()));
    }
}

#[tokio::test]
async fn a_wrong_password_gets_the_form_again_and_no_session() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    let mut b = Browser::new(IP);
    let page = b.get(&gw, "/portal").await;
    let form = [
        ("username", "alice"),
        ("password", "nope"),
        ("csrf", &page.field("csrf")),
    ];
    let r = b.post(&gw, "/portal/login", &form).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("Invalid username or password"));
    assert!(r.set_cookie("conduit_session").is_none());
    assert_eq!(gw.audit().await[0], "auth.login_failed");
}

#[tokio::test]
async fn logout_revokes_the_session_and_clears_the_cookie() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    let mut b = Browser::new(IP);
    b.sign_in(&gw, "alice").await;
    let secret = b.cookies["conduit_session"].clone();
    assert!(gw.team.cache.authenticate(&secret).is_ok());
    let page = b.get(&gw, "/portal").await;
    let r = b
        .post(&gw, "/portal/logout", &[("csrf", &page.field("csrf"))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r
        .set_cookie("conduit_session")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(gw.team.cache.authenticate(&secret).is_err());
    assert_eq!(gw.audit().await[0], "auth.logout");
    let page = b.get(&gw, "/portal").await;
    assert!(
        page.text.contains("name=\"password\""),
        "signed out: {}",
        page.text
    );
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_foreign_csrf_token() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    let mut b = Browser::new(IP);
    b.sign_in(&gw, "alice").await;
    let posts = [
        "/portal/login",
        "/portal/logout",
        "/device",
        "/device/decide",
        "/auth/cli/complete",
    ];
    for path in posts {
        for csrf in [None, Some(sha("csrf:someone else's cookie"))] {
            let mut form = vec![
                ("username", "alice"),
                ("password", team_web_support::PASSWORD),
            ];
            if let Some(c) = &csrf {
                form.push(("csrf", c));
            }
            let r = b.post(&gw, path, &form).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{path} {csrf:?}: {}",
                r.text
            );
        }
    }
    assert!(gw
        .team
        .cache
        .authenticate(&b.cookies["conduit_session"])
        .is_ok());
}

#[tokio::test]
async fn device_page_with_a_portal_session_approves_and_denies() {
    let gw = Gw::new(false).await;
    let alice = gw.user("alice", Role::Member).await;
    let mut b = Browser::new(IP);
    b.sign_in(&gw, "alice").await;
    let cases = [
        ("BCDFGHJK", "bcdf-ghjk", "approve"),
        ("LMNPQRST", " lmnp qrst ", "deny"),
    ];
    for (code, typed, decision) in cases {
        let id = gw.device_code(code).await;
        let query: String = url::form_urlencoded::byte_serialize(typed.as_bytes()).collect();
        let page = b.get(&gw, &format!("/device?user_code={query}")).await;
        assert!(
            page.text.contains(&format!("value=\"{typed}\"")),
            "prefilled"
        );
        let form = [("user_code", typed), ("csrf", &page.field("csrf"))];
        let confirm = b.post(&gw, "/device", &form).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
        assert_eq!(confirm.field("device"), id);
        let form = [
            ("device", id.as_str()),
            ("decision", decision),
            ("csrf", &confirm.field("csrf")),
        ];
        let done = b.post(&gw, "/device/decide", &form).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(done.text.contains("return to your terminal"));
        let row = gw
            .team
            .store
            .device_by_user_code(&sha(code))
            .await
            .unwrap()
            .unwrap();
        let (status, user) = match decision {
            "approve" => (DeviceStatus::Approved, Some(alice.clone())),
            _ => (DeviceStatus::Denied, None),
        };
        assert_eq!((row.status, row.user_id), (status, user), "{decision}");
        assert_eq!(gw.audit().await[0], format!("device.{decision}"));
        let again = b.post(&gw, "/device/decide", &form).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "decided once only");
        let reenter = [("user_code", code), ("csrf", &page.field("csrf"))];
        assert_eq!(
            b.post(&gw, "/device", &reenter).await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test]
async fn device_code_entry_refuses_unknown_codes_and_limits_each_address() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new(IP);
    for attempt in 1..=11 {
        let r = b.enter_code(&gw, "ZZZZ-ZZZZ").await;
        if attempt <= 10 {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
            assert!(r.text.contains("unknown, expired or already used"));
        } else {
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
            assert!(r.header("retry-after").parse::<u64>().unwrap() > 500);
        }
    }
    let mut other = Browser::new([10, 9, 8, 6]);
    let r = other.enter_code(&gw, "ZZZZZZZZ").await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "another address has its own count"
    );
}

#[tokio::test]
async fn the_callback_refuses_a_flow_from_another_browser_and_stores_nothing() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new(IP);
    b.get(&gw, "/portal").await;
    let now = team_support::now();
    let flow = |state: &str| NewFlow {
        state_digest: sha(state),
        purpose: FlowPurpose::Portal,
        idp_id: "env".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        redirect_uri: "http://127.0.0.1:8766/oauth/callback".into(),
        binding_digest: sha(&"a".repeat(64)),
        target: None,
        expires_at: now + 600,
    };
    gw.team.store.create_flow(&flow("s1")).await.unwrap();
    let before = gw.audit().await.len();
    let cases = [
        ("/oauth/callback?state=s1&code=c", StatusCode::FORBIDDEN),
        ("/oauth/callback?state=s1&code=c", StatusCode::BAD_REQUEST), // taken once
        ("/auth/cli/callback?code=c", StatusCode::BAD_REQUEST),
        ("/oauth/callback?state=nope&code=c", StatusCode::BAD_REQUEST),
        (
            "/oauth/callback?error=access_denied&error_description=%3Cb%3Eno",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, want) in cases {
        let r = b.get(&gw, path).await;
        assert_eq!(r.status, want, "{path}: {}", r.text);
        assert!(r.set_cookie("conduit_session").is_none(), "{path}");
        assert!(!r.text.contains("<b>"), "{path}");
    }
    assert_eq!(gw.audit().await.len(), before, "nothing written");
}

#[tokio::test]
async fn the_scripts_are_served_with_the_gateway_and_parse() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new(IP);
    for path in ["/auth/setup/token-script", "/auth/setup"] {
        let r = b.get(&gw, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.text.starts_with("#!/bin/sh"));
        assert!(r.text.contains("GATEWAY='http://127.0.0.1:8766'"), "{path}");
        assert!(!r.text.contains("__CONDUIT_"), "{path}");
        let file = gw.dir.path().join("script.sh");
        std::fs::write(&file, &r.text).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let setup = b.get(&gw, "/auth/setup").await.text;
    assert!(setup.contains("TTL_MS='86100000'"), "24 h minus 5 min");
}
