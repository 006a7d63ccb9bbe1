//! The command-line sign-in (`/auth/cli/*`) through the real router, signed in by a portal
//! session: login → complete → one poll gets the token, a second gets nothing; a wrong
//! verifier is not_found; another browser cannot complete it (login CSRF); a session past its
//! 5 minutes is expired.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
mod team_web_support;

use axum::http::StatusCode;
use conduit_store::Role;
use team_support::{now, sha256_hex as sha};
use team_web_support::{pair, Browser, Gw};

#[tokio::test]
async fn a_portal_session_signs_the_command_line_in_once() {
    let gw = Gw::new(false).await;
    let alice = gw.user("alice", Role::Member).await;
    let mut b = Browser::new([10, 0, 0, 1]);
    b.sign_in(&gw, "alice").await;
    let (verifier, challenge) = pair();
    let mut script = Browser::new([10, 0, 0, 1]);
    assert_eq!(
        script.poll(&gw, &challenge, &verifier).await.json["status"],
        "not_found"
    );
    let page = b
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(
        script.poll(&gw, &challenge, &verifier).await.json["status"],
        "pending"
    );
    let done = b.complete_cli(&gw, &page).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("return to your terminal"));
    let (wrong, _) = pair();
    assert_eq!(
        script.poll(&gw, &challenge, &wrong).await.json["status"],
        "not_found"
    );
    let r = script.poll(&gw, &challenge, &verifier).await.json;
    assert_eq!(r["status"], "complete", "{r}");
    let token = r["token"].as_str().unwrap();
    let principal = gw.team.cache.authenticate(token).unwrap();
    assert_eq!(principal.user_id.as_deref(), Some(alice.as_str()));
    let ttl = r["expires_at"].as_i64().unwrap() - now();
    assert!((86_390..=86_400).contains(&ttl), "{ttl}");
    let again = script.poll(&gw, &challenge, &verifier).await.json;
    assert!(again["status"] == "not_found", "{again}");
    let reuse = b
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    assert_eq!(
        reuse.status,
        StatusCode::BAD_REQUEST,
        "a challenge is used once"
    );
}

#[tokio::test]
async fn another_browser_cannot_complete_the_sign_in() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    gw.user("mallory", Role::Member).await;
    let mut victim = Browser::new([10, 0, 0, 1]);
    victim.sign_in(&gw, "alice").await;
    let mut attacker = Browser::new([10, 0, 0, 2]);
    attacker.sign_in(&gw, "mallory").await;
    let (verifier, challenge) = pair();
    let page = attacker
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    let session = page.field("session");
    let csrf = victim.get(&gw, "/device").await.field("csrf");
    let r = victim
        .post(
            &gw,
            "/auth/cli/complete",
            &[("session", &session), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("started in another browser"));
    let mut script = Browser::new([10, 0, 0, 1]);
    assert_eq!(
        script.poll(&gw, &challenge, &verifier).await.json["status"],
        "pending"
    );
}

#[tokio::test]
async fn bad_challenges_and_expired_sessions() {
    let gw = Gw::new(false).await;
    gw.user("alice", Role::Member).await;
    let mut b = Browser::new([10, 0, 0, 1]);
    b.sign_in(&gw, "alice").await;
    for challenge in ["", "abc", &"G".repeat(64), &"A".repeat(64)] {
        let r = b
            .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{challenge:?}");
    }
    let (verifier, challenge) = pair();
    let binding = sha("x");
    let created = gw
        .team
        .store
        .create_cli_session(&challenge, &binding, now() - 1);
    created.await.unwrap();
    let r = b.poll(&gw, &challenge, &verifier).await.json;
    assert_eq!(r["status"], "expired", "{r}");
}

#[tokio::test]
async fn without_a_session_or_an_idp_the_page_says_to_sign_in_first() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new([10, 0, 0, 1]);
    let (verifier, challenge) = pair();
    let r = b
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("/portal"));
    let r = b.poll(&gw, &challenge, &verifier).await.json;
    assert_eq!(r["status"], "not_found", "nothing stored");
}
