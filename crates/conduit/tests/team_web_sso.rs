//! The browser sign-ins through an identity provider, against a tiny in-process IdP
//! (`team_web_support/idp.rs`: PKCE verifier, client authentication and redirect URI checked,
//! an EdDSA ID token with the sign-in's nonce): the portal (client secret in the form or by
//! HTTP Basic), `/device` and the command line, then the refusals (another nonce, another
//! browser) with nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
mod team_web_support;

use axum::http::StatusCode;
use conduit_store::DeviceStatus;
use team_support::sha256_hex as sha;
use team_web_support::idp::StubIdp;
use team_web_support::{pair, Browser, Gw};

const IP: [u8; 4] = [10, 7, 7, 7];

async fn setup() -> (StubIdp, Gw) {
    setup_with(false).await
}

async fn setup_with(basic_only: bool) -> (StubIdp, Gw) {
    let idp = StubIdp::start(basic_only).await;
    let gw = Gw::with_idp(false, Some(idp.idp())).await;
    (idp, gw)
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
    assert!(gw.user_of(&idp, "alice").await.is_some());
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
            gw.user_of(&idp, "mallory").await.map(|u| u.id),
            None,
            "nobody provisioned"
        );
    }
}

#[tokio::test]
async fn device_code_approved_by_the_person_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let id = gw.device_code("BCDFGHJK").await;
    let mut b = Browser::new(IP);
    let r = b.enter_code(&gw, "bcdf-ghjk").await;
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
        .device_by_user_code(&sha("BCDFGHJK"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, DeviceStatus::Approved);
    assert_eq!(row.user_id, gw.user_of(&idp, "bob").await.map(|u| u.id));
}

#[tokio::test]
async fn command_line_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let (verifier, challenge) = pair();
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
    let done = b.complete_cli(&gw, &confirm).await;
    assert!(
        done.text.contains("Command line connected"),
        "{}",
        done.text
    );
    let poll = b.poll(&gw, &challenge, &verifier).await.json;
    assert_eq!(poll["status"], "complete", "{poll}");
    let principal = gw
        .team
        .cache
        .authenticate(poll["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        principal.user_id,
        gw.user_of(&idp, "carol").await.map(|u| u.id)
    );
}
