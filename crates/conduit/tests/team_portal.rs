//! The portal's console through the real router: who sees which page (member, auditor,
//! admin, nobody), which writes each role may make (enforced on the server, CSRF first),
//! escaping, the page headers, the key's secret shown once, and idle expiry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;
mod team_web_support;

use axum::http::StatusCode;
use conduit_store::Role;
use team_web_support::{Browser, Gw, Reply};

const IP: [u8; 4] = [10, 1, 2, 3];

/// A signed-in browser for a new user with `role`.
async fn signed_in(gw: &Gw, subject: &str, role: Role) -> Browser {
    gw.user(subject, role).await;
    let mut b = Browser::new(IP);
    let r = b.sign_in(gw, subject).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    b
}

/// The CSRF token of this browser's console pages.
async fn csrf(b: &mut Browser, gw: &Gw) -> String {
    let page = b.get(gw, "/portal/connect").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.field("csrf")
}

/// What every console page must carry and must not contain.
fn assert_locked_down(path: &str, r: &Reply) {
    let csp = r.header("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{path}: {csp}");
    }
    assert_eq!(r.header("x-frame-options"), "DENY", "{path}");
    assert_eq!(r.header("cache-control"), "no-store", "{path}");
    assert!(!r.text.contains(" style="), "{path}: inline style");
    for (i, _) in r.text.match_indices("<script") {
        let tag = &r.text[i..i + r.text[i..].find('>').unwrap()];
        assert!(
            tag.contains(" src=\"/portal/assets/"),
            "{path}: inline script {tag}"
        );
    }
    // Every visible input has a label (by `for`) or an aria-label.
    for (i, _) in r.text.match_indices("<input") {
        let tag = &r.text[i..i + r.text[i..].find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split(" id=\"")
            .nth(1)
            .map(|s| &s[..s.find('"').unwrap()]);
        let labelled = id.is_some_and(|id| r.text.contains(&format!("for=\"{id}\"")))
            || tag.contains("aria-label=");
        assert!(labelled, "{path}: unlabelled {tag}");
    }
}

#[tokio::test]
async fn each_role_sees_its_pages_and_is_refused_the_rest() {
    let gw = Gw::new(false).await;
    let mut member = signed_in(&gw, "mia", Role::Member).await;
    let mut auditor = signed_in(&gw, "aud", Role::Auditor).await;
    let mut admin = signed_in(&gw, "ada", Role::Admin).await;
    let mut nobody = Browser::new(IP);
    // (path, member, auditor, admin); nobody is sent to sign in.
    let cases = [
        ("/portal", 200, 200, 200),
        ("/portal/keys", 200, 200, 200),
        ("/portal/spend", 200, 200, 200),
        ("/portal/spend.csv", 200, 200, 200),
        ("/portal/connect", 200, 200, 200),
        ("/portal/users", 403, 200, 200),
        ("/portal/users?q=ad", 403, 200, 200),
        ("/portal/teams", 403, 200, 200),
        ("/portal/idps", 403, 200, 200),
        ("/portal/budgets", 403, 200, 200),
        ("/portal/audit", 403, 200, 200),
    ];
    for (path, m, au, ad) in cases {
        for (who, b, want) in [
            ("member", &mut member, m),
            ("auditor", &mut auditor, au),
            ("admin", &mut admin, ad),
        ] {
            let r = b.get(&gw, path).await;
            assert_eq!(r.status.as_u16(), want, "{who} {path}: {}", r.text);
            if r.header("content-type").starts_with("text/html") {
                assert_locked_down(path, &r);
            }
            if want == 403 {
                assert!(r.text.contains("<h1>Forbidden</h1>"), "{}", r.text);
            }
        }
        let r = nobody.get(&gw, path).await;
        if path == "/portal" {
            assert!(r.text.contains("Sign in"), "{}", r.text);
        } else {
            assert_eq!(r.status, StatusCode::SEE_OTHER, "nobody {path}");
            assert_eq!(r.header("location"), "/portal");
        }
    }
    // Navigation follows the role.
    let nav = |r: &Reply| r.text.contains("href=\"/portal/users\"");
    assert!(!nav(&member.get(&gw, "/portal").await));
    assert!(nav(&auditor.get(&gw, "/portal").await));
    assert!(nav(&admin.get(&gw, "/portal").await));
}

/// (path, form, member, auditor, admin, the audit action an admin's write leaves)
type WriteCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    u16,
    u16,
    u16,
    &'static str,
);

#[tokio::test]
async fn writes_are_enforced_on_the_server_by_role() {
    let gw = Gw::new(false).await;
    let mut member = signed_in(&gw, "mo", Role::Member).await;
    let mut auditor = signed_in(&gw, "al", Role::Auditor).await;
    let mut admin = signed_in(&gw, "an", Role::Admin).await;
    let cases: [WriteCase; 6] = [
        (
            "/portal/teams",
            &[("name", "red")],
            403,
            403,
            303,
            "team.create",
        ),
        (
            "/portal/users",
            &[("subject", "newbie"), ("role", "member")],
            403,
            403,
            303,
            "user.create",
        ),
        (
            "/portal/budgets",
            &[
                ("scope_type", "user"),
                ("scope_id", "mo"),
                ("period", "monthly"),
                ("amount_usd", "100"),
            ],
            403,
            403,
            303,
            "spend_limit.upsert",
        ),
        (
            "/portal/limits",
            &[("scope_type", "user"), ("scope_id", "mo"), ("rpm", "60")],
            403,
            403,
            303,
            "limit.set",
        ),
        (
            "/portal/keys",
            &[("name", "mine")],
            200,
            200,
            200,
            "key.create",
        ),
        (
            "/portal/idps/test",
            &[("issuer_url", "ftp://nowhere")],
            403,
            403,
            200,
            "",
        ),
    ];
    for (path, form, m, au, ad, action) in cases {
        for (who, b, want) in [
            ("member", &mut member, m),
            ("auditor", &mut auditor, au),
            ("admin", &mut admin, ad),
        ] {
            let token = csrf(b, &gw).await;
            let mut fields: Vec<(&str, &str)> = form.to_vec();
            fields.push(("csrf", &token));
            let before = gw.audit().await.len();
            let r = b.post(&gw, path, &fields).await;
            assert_eq!(r.status.as_u16(), want, "{who} {path}: {}", r.text);
            let written = gw.audit().await;
            if want == 403 {
                assert_eq!(written.len(), before, "{who} {path} wrote {:?}", written[0]);
            } else if !action.is_empty() {
                assert_eq!(written[0], action, "{who} {path}");
            }
        }
    }
    assert!(gw
        .team
        .store
        .list_teams()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "red"));
    assert!(gw
        .team
        .store
        .user_by_subject("newbie")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn forms_without_this_sessions_csrf_token_are_refused() {
    let gw = Gw::new(false).await;
    let mut admin = signed_in(&gw, "root", Role::Admin).await;
    let mut other = signed_in(&gw, "root2", Role::Admin).await;
    let theirs = csrf(&mut other, &gw).await;
    for token in [
        None,
        Some(""),
        Some("0".repeat(64).as_str()),
        Some(theirs.as_str()),
    ] {
        let mut form = vec![("name", "sneaky")];
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        let r = admin.post(&gw, "/portal/teams", &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}: {}", r.text);
        assert!(r.text.contains("CSRF check failed"), "{}", r.text);
    }
    let teams = gw.team.store.list_teams().await.unwrap();
    assert!(teams.iter().all(|t| t.name != "sneaky"));
    // Anyone without a session is refused a POST outright.
    let mut nobody = Browser::new(IP);
    let r = nobody.post(&gw, "/portal/teams", &[("name", "x")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn names_render_as_inert_text_everywhere() {
    let gw = Gw::new(false).await;
    let evil = "<script>alert(1)</script>";
    let mut admin = signed_in(&gw, "boss", Role::Admin).await;
    gw.user(evil, Role::Member).await;
    let token = csrf(&mut admin, &gw).await;
    let r = admin
        .post(&gw, "/portal/teams", &[("name", evil), ("csrf", &token)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = admin
        .post(
            &gw,
            "/portal/keys",
            &[("name", "\"><img src=x>"), ("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for path in [
        "/portal/users",
        "/portal/teams",
        "/portal/keys",
        "/portal/audit",
    ] {
        let r = admin.get(&gw, path).await;
        assert!(!r.text.contains(evil), "{path}");
        assert!(!r.text.contains("<img src=x>"), "{path}");
        assert_locked_down(path, &r);
    }
    let users = admin.get(&gw, "/portal/users").await;
    assert!(users.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn a_key_is_shown_once_and_revoked_by_its_owner_or_an_admin_only() {
    let gw = Gw::new(false).await;
    let mut member = signed_in(&gw, "kim", Role::Member).await;
    let mut admin = signed_in(&gw, "kay", Role::Admin).await;
    let token = csrf(&mut member, &gw).await;
    let r = member
        .post(&gw, "/portal/keys", &[("name", "laptop"), ("csrf", &token)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let start = r.text.find("sk-proxy-").unwrap();
    let secret = &r.text[start..start + "sk-proxy-".len() + 64];
    assert_eq!(r.text.matches(secret).count(), 1, "the secret appears once");
    assert!(r.text.contains("data-copy=\"new-key\""));
    assert!(gw.team.cache.authenticate(secret).is_ok());
    for who in [&mut member, &mut admin] {
        let list = who.get(&gw, "/portal/keys").await;
        assert!(!list.text.contains(secret));
        assert!(list.text.contains(&secret[..16]), "the prefix is listed");
    }
    let key_id = gw.team.store.list_keys(None).await.unwrap()[0].id.clone();
    // Someone else's key is "not found" to a member; the admin's own key here.
    let admin_token = csrf(&mut admin, &gw).await;
    let r = admin
        .post(
            &gw,
            "/portal/keys",
            &[("name", "ops"), ("csrf", &admin_token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let keys = gw.team.store.list_keys(None).await.unwrap();
    let ops = keys.iter().find(|k| k.name == "ops").unwrap().id.clone();
    let r = member
        .post(
            &gw,
            &format!("/portal/keys/{ops}/revoke"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = member
        .post(
            &gw,
            &format!("/portal/keys/{key_id}/revoke"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/portal/keys?done=key_revoked");
    gw.team.cache.sync_now(&gw.team.store).await.unwrap();
    assert!(gw.team.cache.authenticate(secret).is_err());
    let list = member.get(&gw, "/portal/keys?done=key_revoked").await;
    assert!(list.text.contains("<p role=\"status\">Key revoked.</p>"));
}

#[tokio::test]
async fn an_idle_session_is_ended_and_the_person_asked_to_sign_in_again() {
    let gw = Gw::new(false).await;
    let mut b = signed_in(&gw, "sleepy", Role::Member).await;
    // This instance has not seen the session on a console page yet: it starts from the
    // store's record of the last use, here two hours ago (past the 30 minutes).
    let sessions = gw.team.store.list_keys(None).await.unwrap();
    assert!(sessions.is_empty(), "sessions are not keys");
    let session_id = gw
        .team
        .cache
        .authenticate(b.cookies.get("conduit_session").unwrap())
        .unwrap()
        .credential_id;
    let old = conduit::team::wire::now() - 7200;
    gw.team
        .store
        .touch_credentials(&[(session_id.clone(), old)])
        .await
        .unwrap();
    let r = b.get(&gw, "/portal/keys").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/portal?ended=idle");
    assert!(!b.cookies.contains_key("conduit_session"));
    let page = b.get(&gw, "/portal?ended=idle").await;
    assert!(
        page.text
            .contains("ended after 30 minutes without activity"),
        "{}",
        page.text
    );
    let row = gw
        .team
        .store
        .credential(&session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.revoked_at.is_some());
    assert_eq!(gw.audit().await[0], "auth.session_idle");
}

#[tokio::test]
async fn the_assets_are_served_with_their_types() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new(IP);
    for (path, kind) in [
        ("/portal/assets/portal.css", "text/css"),
        ("/portal/assets/portal.js", "text/javascript"),
    ] {
        let r = b.get(&gw, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header("content-type").starts_with(kind), "{path}");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert!(!r.text.is_empty());
    }
}
