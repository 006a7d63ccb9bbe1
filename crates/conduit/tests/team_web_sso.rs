//! The browser sign-ins through an identity provider, against a tiny in-process IdP
//! (`team_web_support/idp.rs`: PKCE verifier, client authentication and redirect URI checked,
//! an EdDSA ID token with the sign-in's nonce): the portal (client secret in the form or by
//! HTTP Basic), `/device` and the command line, then the refusals (another nonce, another
//! browser) with nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;
mod team_web_support;

use axum::http::StatusCode;
use conduit_store::DeviceStatus;
use serde_json::Value;
use team_support::sha256_hex as sha;
use team_web_support::idp::{now, StubIdp};
use team_web_support::{Browser, Gw};

const IP: [u8; 4] = [10, 7, 7, 7];

async fn setup() -> (StubIdp, Gw) {
    setup_with(false).await
}

async fn setup_with(basic_only: bool) -> (StubIdp, Gw) {
    let idp = StubIdp::start(basic_only).await;
    let gw = Gw::with_idp(false, Some(idp.idp())).await;
    (idp, gw)
}

async fn user_id(gw: &Gw, idp: &StubIdp, sub: &str) -> Option<String> {
    let u = gw
        .team
        .store
        .user_by_identity(&idp.issuer, sub)
        .await
        .unwrap();
    u.map(|u| u.id)
}

#[tokio::test]
async fn portal_sign_in_at_the_idp_provisions_and_sets_the_cookie() {
    for basic_only in [false, true] {
        portal_sign_in(basic_only).await;
    }
}

async fn portal_sign_in(basic_only: bool) {
    let (idp, gw) = setup_with(basic_only).await;
    let mut b = Browser::new(IP);
    let page = b.get(&gw, "/portal").await;
    assert!(page
        .text
        .contains("<a href=\"/portal/sso/env\">Sign in with Stub</a>"));
    let csp = page.header("content-security-policy").to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", idp.issuer)),
        "{csp}"
    );
    let r = b.get(&gw, "/portal/sso/env").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let callback = idp.sign_in(r.header("location"), "alice", None);
    let r = b.get(&gw, &callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(r
        .set_cookie("conduit_session")
        .unwrap()
        .contains("HttpOnly"));
    let page = b.get(&gw, "/portal").await;
    assert!(page.text.contains("alice@example.com") && page.text.contains("(member)"));
    assert!(user_id(&gw, &idp, "alice").await.is_some());
    let again = b.get(&gw, &callback).await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "a state is taken once"
    );
}

#[tokio::test]
async fn refused_callbacks_store_nothing() {
    let (idp, gw) = setup().await;
    // Cases: the ID token carries another nonce; the callback reaches another browser.
    for (nonce, other_browser) in [(Some("not-the-nonce"), false), (None, true)] {
        let mut b = Browser::new(IP);
        let r = b.get(&gw, "/portal/sso/env").await;
        let callback = idp.sign_in(r.header("location"), "mallory", nonce);
        let mut elsewhere = Browser::new(IP);
        let at = if other_browser {
            &mut elsewhere
        } else {
            &mut b
        };
        let r = at.get(&gw, &callback).await;
        assert!(
            r.status.is_client_error(),
            "{nonce:?}: {} {}",
            r.status,
            r.text
        );
        if other_browser {
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert_eq!(
                idp.grants.lock().unwrap().len(),
                1,
                "the code was never exchanged"
            );
            idp.grants.lock().unwrap().clear();
        }
        assert!(r.set_cookie("conduit_session").is_none());
        assert_eq!(
            user_id(&gw, &idp, "mallory").await,
            None,
            "nobody provisioned"
        );
    }
}

#[tokio::test]
async fn device_code_approved_by_the_person_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let (device, code) = (sha("device-secret"), sha("BCDFGHJK"));
    let created = gw
        .team
        .store
        .create_device_code(&device, &code, now() + 600, 5);
    let id = created.await.unwrap().id;
    let mut b = Browser::new(IP);
    let csrf = b.get(&gw, "/device").await.field("csrf");
    let r = b
        .post(
            &gw,
            "/device",
            &[("user_code", "bcdf-ghjk"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "one IdP: straight there; {}",
        r.text
    );
    let callback = idp.sign_in(r.header("location"), "bob", None);
    let confirm = b.get(&gw, &callback).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert_eq!(confirm.field("device"), id);
    let form = [
        ("device", id.as_str()),
        ("decision", "approve"),
        ("csrf", &confirm.field("csrf")),
    ];
    let done = b.post(&gw, "/device/decide", &form).await;
    assert!(done.text.contains("Device approved"), "{}", done.text);
    let row = gw
        .team
        .store
        .device_by_user_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, DeviceStatus::Approved);
    assert_eq!(row.user_id, user_id(&gw, &idp, "bob").await);
}

#[tokio::test]
async fn command_line_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let verifier = hex::encode(rand::random::<[u8; 32]>());
    let challenge = sha(&verifier);
    let mut b = Browser::new(IP);
    let r = b
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let confirm = b
        .get(&gw, &idp.sign_in(r.header("location"), "carol", None))
        .await;
    assert!(
        confirm.text.contains(">Connect</button>"),
        "{}",
        confirm.text
    );
    let form = [
        ("session", confirm.field("session")),
        ("csrf", confirm.field("csrf")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post(&gw, "/auth/cli/complete", &form).await;
    assert!(
        done.text.contains("Command line connected"),
        "{}",
        done.text
    );
    let path = format!("/auth/cli/poll?challenge={challenge}");
    let headers = [("x-conduit-cli-verifier", verifier.as_str())];
    let poll: Value = b.send(&gw, "GET", &path, &headers, Vec::new()).await.json();
    assert_eq!(poll["status"], "complete", "{poll}");
    let principal = gw
        .team
        .cache
        .authenticate(poll["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(principal.user_id, user_id(&gw, &idp, "carol").await);
}
