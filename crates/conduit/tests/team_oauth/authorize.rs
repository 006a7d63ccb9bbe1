//! `conduit token login`'s sign-in (authorization code + PKCE, docs/design-token.md §1) through
//! the real router with a cookie-keeping browser (`team_web_support`): the requests refused
//! (an error page when the client or redirect URI is not ours, else back to the redirect URI
//! with the error and state), the whole way through a portal session or the IdP to tokens that
//! work, the token endpoint's refusals (each spends the code), login CSRF and Cancel.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_store::{AuthorizeRequest, Role};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{captured_log, DEVICE_GRANT};
use crate::team_support::{self, now, sha256_hex};
use crate::team_web_support::idp::StubIdp;
use crate::team_web_support::{Browser, Gw, Reply};

/// The loopback listener of `conduit token login`.
const R: &str = "http://127.0.0.1:4711/callback";
const ISSUER: &str = "http://127.0.0.1:8766";
const STATE: &str = "st-42";
const HOME: [u8; 4] = [10, 0, 0, 1];

/// Parameters changed in a request (`None`: left out of an authorize request).
type Changes<'a> = &'a [(&'a str, Option<&'a str>)];
/// Form fields changed in a code exchange (`""`: left out).
type Fields<'a> = &'a [(&'a str, &'a str)];

/// A PKCE pair: a random verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/oauth/authorize?…`: the good request with `changes` applied (`None` drops a parameter).
fn authorize_path(challenge: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut params = vec![
        ("response_type", Some("code")),
        ("client_id", Some("conduit-cli")),
        ("redirect_uri", Some(R)),
        ("code_challenge", Some(challenge)),
        ("code_challenge_method", Some("S256")),
        ("state", Some(STATE)),
    ];
    for (name, value) in changes {
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = *value,
            None => params.push((name, *value)),
        }
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    format!("/oauth/authorize?{}", q.finish())
}

/// The query of a redirect to the loopback listener (asserting it goes there).
fn back_at_r(reply: &Reply) -> HashMap<String, String> {
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let location = reply.header("location");
    assert!(location.starts_with(&format!("{R}?")), "{location}");
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

/// A gateway, alice with a password, and her browser signed in at the portal.
async fn signed_in() -> (Gw, Browser, String) {
    let gw = Gw::new(false).await;
    let alice = gw.user("alice", Role::Member).await;
    let mut b = Browser::new(HOME);
    let r = b.sign_in(&gw, "alice").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    (gw, b, alice)
}

/// Connect (or Cancel) on the consent `page`.
async fn decide(b: &mut Browser, gw: &Gw, page: &Reply, decision: &str) -> Reply {
    let (session, csrf) = (page.field("session"), page.field("csrf"));
    let form = [
        ("session", session.as_str()),
        ("csrf", csrf.as_str()),
        ("decision", decision),
    ];
    b.post(gw, "/oauth/authorize/decide", &form).await
}

/// The whole browser side for `b`: authorize, Connect; the code. Returns the code.
async fn code_for(gw: &Gw, b: &mut Browser, challenge: &str) -> String {
    let page = b.get(gw, &authorize_path(challenge, &[])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let q = back_at_r(&decide(b, gw, &page, "connect").await);
    q["code"].clone()
}

/// `POST /oauth/token` from the command line (no cookies, and, unlike the test browser, no
/// cache sync first: what the gateway knows is what its own writes and sync task told it).
async fn token(gw: &Gw, form: &[(&str, &str)]) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = Request::post("/oauth/token")
        .header("host", "127.0.0.1:8766")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    crate::support::peer(&mut request, HOME.into());
    team_support::send(&gw.app, request).await
}

/// The code exchange with these fields changed.
async fn exchange(gw: &Gw, code: &str, verifier: &str, changes: &[(&str, &str)]) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", R),
        ("code_verifier", verifier),
        ("client_id", "conduit-cli"),
    ];
    for (name, value) in changes {
        match form.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value,
            None => form.push((name, value)),
        }
    }
    form.retain(|(_, v)| !v.is_empty());
    token(gw, &form).await
}

fn error_of(r: &Reply) -> (u16, &str) {
    (r.status.as_u16(), r.json["error"].as_str().unwrap_or("-"))
}

/// `GET path` with `Authorization: Bearer token`.
async fn bearer(gw: &Gw, method: &str, path: &str, token: &str, body: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:8766")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(Body::from(body.to_owned()))
        .unwrap();
    team_support::send(&gw.app, request).await
}

#[tokio::test]
async fn bad_authorize_requests_get_a_page_or_go_back_with_the_error() {
    let (gw, mut b, _) = signed_in().await;
    let page = "page";
    let long = "A".repeat(44);
    // (changes to the good request, "page" or the error sent back, whether state comes back)
    let cases: &[(Changes, &str, bool)] = &[
        (&[("client_id", Some("claude-code"))], page, false),
        (&[("client_id", None)], page, false),
        (&[("redirect_uri", None)], page, false),
        (
            &[("redirect_uri", Some("http://localhost:4711/callback"))],
            page,
            false,
        ),
        (
            &[("redirect_uri", Some("https://127.0.0.1:4711/callback"))],
            page,
            false,
        ),
        (
            &[("redirect_uri", Some("http://evil.example:4711/callback"))],
            page,
            false,
        ),
        (
            &[("redirect_uri", Some("http://127.0.0.1:4711/cb#x"))],
            page,
            false,
        ),
        (
            &[("redirect_uri", Some("http://u@127.0.0.1:4711/cb"))],
            page,
            false,
        ),
        (
            &[("redirect_uri", Some("http://127.0.0.1/callback"))],
            page,
            false,
        ),
        (
            &[("response_type", Some("token"))],
            "unsupported_response_type",
            true,
        ),
        (&[("response_type", None)], "invalid_request", true),
        (
            &[("code_challenge_method", Some("plain"))],
            "invalid_request",
            true,
        ),
        (&[("code_challenge_method", None)], "invalid_request", true),
        (
            &[("code_challenge", Some("short"))],
            "invalid_request",
            true,
        ),
        (&[("code_challenge", None)], "invalid_request", true),
        (
            &[("code_challenge", Some(long.as_str()))],
            "invalid_request",
            true,
        ),
        (
            &[("state", None), ("response_type", Some("id_token"))],
            "unsupported_response_type",
            false,
        ),
    ];
    for (changes, want, with_state) in cases {
        let (_, challenge) = pkce();
        let r = b.get(&gw, &authorize_path(&challenge, changes)).await;
        if *want == page {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{changes:?}: {}", r.text);
            assert_eq!(r.header("location"), "", "{changes:?}: no redirect");
            assert!(r.text.contains("conduit token login"), "{}", r.text);
            continue;
        }
        let q = back_at_r(&r);
        assert_eq!(q["error"], *want, "{changes:?}");
        assert!(!q["error_description"].is_empty(), "{changes:?}");
        assert!(!q.contains_key("code"), "{changes:?}");
        let state = q.get("state").map(String::as_str);
        assert_eq!(state, with_state.then_some(STATE), "{changes:?}");
    }
    // A challenge is used once.
    let (_, challenge) = pkce();
    let first = b.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = b.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(back_at_r(&again)["error"], "invalid_request");
}

#[tokio::test]
async fn a_portal_session_connects_and_the_tokens_work() {
    let (gw, mut b, alice) = signed_in().await;
    let (verifier, challenge) = pkce();
    let page = b.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page
        .text
        .contains("Connect conduit on this computer to your account?"));
    assert!(page.text.contains(">Connect</button>") && page.text.contains(">Cancel</button>"));
    // The form's answer redirects to the listener: the page's CSP lets it.
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:4711;"),
        "{csp}"
    );
    let connected = decide(&mut b, &gw, &page, "connect").await;
    let q = back_at_r(&connected);
    assert_eq!((q["state"].as_str(), q["iss"].as_str()), (STATE, ISSUER));
    let code = &q["code"];
    assert_eq!(code.len(), 43, "32 random bytes");
    assert!(gw.audit().await.contains(&"authorize.approve".to_owned()));
    // Connecting twice gives no second code.
    let twice = decide(&mut b, &gw, &page, "connect").await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert_eq!(twice.header("location"), "");

    let a = exchange(&gw, code, &verifier, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("cache-control"), "no-store");
    assert_eq!(
        (a.json["token_type"].as_str(), a.json["scope"].as_str()),
        (Some("Bearer"), Some("claude-code"))
    );
    let expires_in = a.json["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    let access = a.json["access_token"].as_str().unwrap();
    let refresh = a.json["refresh_token"].as_str().unwrap();
    assert_eq!(gw.team.signer.verify(access).unwrap().user_id, alice);

    let messages = json!({"model": "claude-x", "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});
    let m = bearer(&gw, "POST", "/v1/messages", access, &messages.to_string()).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let me = bearer(&gw, "GET", "/auth/me", access, "").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(
        (&me.json["type"], &me.json["user_id"], &me.json["name"]),
        (&json!("gateway_token"), &json!(alice), &json!("alice"))
    );
    assert!(
        me.json["email"].is_null(),
        "alice has no e-mail: {}",
        me.json
    );

    // A sign-in like the device flow's: the refresh token rotates.
    let r = token(
        &gw,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The code was spent by its one exchange.
    let replay = exchange(&gw, code, &verifier, &[]).await;
    assert_eq!(error_of(&replay), (400, "invalid_grant"));
}

#[tokio::test]
async fn mistakes_at_the_token_endpoint_are_invalid_grant_and_spend_the_code() {
    let (gw, mut b, alice) = signed_in().await;
    let other_verifier = pkce().0;
    // (case, the first presentation's changes, its answer); the right one afterwards is
    // refused too, except where the first never reached the code.
    let cases: &[(&str, Fields, (u16, &str), bool)] = &[
        (
            "wrong verifier",
            &[("code_verifier", other_verifier.as_str())],
            (400, "invalid_grant"),
            true,
        ),
        (
            "other redirect_uri",
            &[("redirect_uri", "http://127.0.0.1:4712/callback")],
            (400, "invalid_grant"),
            true,
        ),
        (
            "redirect_uri with a slash more",
            &[("redirect_uri", "http://127.0.0.1:4711/callback/")],
            (400, "invalid_grant"),
            true,
        ),
        ("replayed", &[], (200, "-"), true),
        (
            "unknown code",
            &[("code", "not-a-code")],
            (400, "invalid_grant"),
            false,
        ),
        (
            "another client",
            &[("client_id", "claude-code")],
            (401, "invalid_client"),
            false,
        ),
        (
            "no verifier",
            &[("code_verifier", "")],
            (400, "invalid_request"),
            false,
        ),
        (
            "no redirect_uri",
            &[("redirect_uri", "")],
            (400, "invalid_request"),
            false,
        ),
    ];
    for (case, changes, first, spent) in cases {
        let (verifier, challenge) = pkce();
        let code = code_for(&gw, &mut b, &challenge).await;
        let a = exchange(&gw, &code, &verifier, changes).await;
        assert_eq!(error_of(&a), *first, "{case}: {}", a.text);
        assert_eq!(a.header("cache-control"), "no-store");
        let right = exchange(&gw, &code, &verifier, &[]).await;
        let want = if *spent {
            (400, "invalid_grant")
        } else {
            (200, "-")
        };
        assert_eq!(
            error_of(&right),
            want,
            "{case}, then the right one: {}",
            right.text
        );
    }

    // A code past its 120 s (made the way the consent page makes one, already expired).
    let (verifier, challenge) = pkce();
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&challenge).unwrap());
    let request = AuthorizeRequest {
        redirect_uri: R.into(),
        state: None,
    };
    let s = &gw.team.store;
    let t = now();
    let cli = s
        .create_authorize_session(&challenge_hex, &sha256_hex("b"), t + 300, request)
        .await
        .unwrap();
    s.verify_cli_session(&cli.id, &alice, t).await.unwrap();
    let code = "expired-code";
    let actor = team_support::system();
    let (binding, code_digest) = (sha256_hex("b"), sha256_hex(code));
    let made = s
        .approve_authorization(&cli.id, &binding, &code_digest, t, t, &actor)
        .await;
    assert!(made.unwrap());
    let a = exchange(&gw, code, &verifier, &[]).await;
    assert_eq!(error_of(&a), (400, "invalid_grant"), "{}", a.text);
    assert!(a.json["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // A person new to this instance's cache (as one the IdP sign-in provisioned a moment
    // ago): the tokens work at once, not after the next sync.
    let newcomer = team_support::user(s, "newcomer", Role::Member, None).await;
    let (verifier, challenge) = pkce();
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&challenge).unwrap());
    let request = AuthorizeRequest {
        redirect_uri: R.into(),
        state: None,
    };
    let cli = s
        .create_authorize_session(&challenge_hex, &binding, t + 300, request)
        .await
        .unwrap();
    s.verify_cli_session(&cli.id, &newcomer, t).await.unwrap();
    let code_digest = sha256_hex("fresh-code");
    let made = s
        .approve_authorization(&cli.id, &binding, &code_digest, t + 120, t, &actor)
        .await;
    assert!(made.unwrap());
    let a = exchange(&gw, "fresh-code", &verifier, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let access = a.json["access_token"].as_str().unwrap();
    let me = bearer(&gw, "GET", "/auth/me", access, "").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);

    // The grant names the one it does not know.
    let g = token(&gw, &[("grant_type", "implicit")]).await;
    assert_eq!(error_of(&g), (400, "unsupported_grant_type"));
    assert!(g.text.contains("authorization_code") && g.text.contains(DEVICE_GRANT));
}

#[tokio::test]
async fn another_browser_cannot_connect_the_request() {
    let (gw, mut attacker, _) = signed_in().await;
    gw.user("victim", Role::Member).await;
    let mut victim = Browser::new([10, 0, 0, 2]);
    victim.sign_in(&gw, "victim").await;
    let (_, challenge) = pkce();
    let page = attacker.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let session = page.field("session");
    // The victim's own CSRF token, the attacker's request.
    let csrf = victim.get(&gw, "/device").await.field("csrf");
    for decision in ["connect", "cancel"] {
        let form = [
            ("session", session.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", decision),
        ];
        let r = victim.post(&gw, "/oauth/authorize/decide", &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{decision}: {}", r.text);
        assert!(r.text.contains("started in another browser"));
        assert_eq!(r.header("location"), "");
    }
    // Without the CSRF token, not even the browser that started it.
    let form = [("session", session.as_str()), ("decision", "connect")];
    let r = attacker.post(&gw, "/oauth/authorize/decide", &form).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Nothing was decided: the browser that started it still can.
    let q = back_at_r(&decide(&mut attacker, &gw, &page, "connect").await);
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn cancel_goes_back_with_access_denied() {
    let (gw, mut b, _) = signed_in().await;
    let (_, challenge) = pkce();
    let page = b.get(&gw, &authorize_path(&challenge, &[])).await;
    let q = back_at_r(&decide(&mut b, &gw, &page, "cancel").await);
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", STATE)
    );
    assert!(!q.contains_key("code"));
    let later = decide(&mut b, &gw, &page, "connect").await;
    assert_eq!(later.status, StatusCode::BAD_REQUEST, "{}", later.text);
    assert_eq!(later.header("location"), "");
    assert_eq!(
        gw.audit().await.first().map(String::as_str),
        Some("authorize.deny")
    );
    // Neither Connect nor Cancel: nothing decided.
    let (_, challenge) = pkce();
    let page = b.get(&gw, &authorize_path(&challenge, &[])).await;
    let r = decide(&mut b, &gw, &page, "maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(back_at_r(&decide(&mut b, &gw, &page, "connect").await).contains_key("code"));
}

#[tokio::test]
async fn the_command_lines_own_doors_never_finish_an_authorize_request() {
    let (gw, mut b, _) = signed_in().await;
    let (verifier, challenge) = pkce();
    let page = b.get(&gw, &authorize_path(&challenge, &[])).await;
    // `/auth/cli/complete` and the poll with the verifier: no session token that way.
    let done = b.complete_cli(&gw, &page).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{}", done.text);
    let challenge_hex = hex::encode(URL_SAFE_NO_PAD.decode(&challenge).unwrap());
    assert_eq!(sha256_hex(&verifier), challenge_hex);
    let polled = b.poll(&gw, &challenge_hex, &verifier).await;
    assert_eq!(polled.json["status"], "not_found", "{}", polled.text);
}

#[tokio::test]
async fn without_a_session_or_an_idp_the_page_says_to_sign_in_first() {
    let gw = Gw::new(false).await;
    let mut b = Browser::new(HOME);
    let (_, challenge) = pkce();
    let r = b.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(r.text.contains("/portal"));
    assert_eq!(r.header("location"), "");
}

#[tokio::test]
async fn signed_in_at_the_idp_then_connected() {
    let idp = StubIdp::start(false).await;
    let gw = Gw::with_idp(false, Some(idp.idp())).await;
    let mut b = Browser::new(HOME);
    let (verifier, challenge) = pkce();
    let r = b.get(&gw, &authorize_path(&challenge, &[])).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let page = b
        .get(&gw, &idp.sign_in(r.header("location"), "carol", None))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(">Connect</button>"), "{}", page.text);
    let q = back_at_r(&decide(&mut b, &gw, &page, "connect").await);
    let a = exchange(&gw, &q["code"], &verifier, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let access = a.json["access_token"].as_str().unwrap();
    let me = bearer(&gw, "GET", "/auth/me", access, "").await;
    assert_eq!(me.json["email"], "carol@example.com", "{}", me.text);
    assert_eq!(me.json["name"], "carol", "{}", me.text);
}

#[tokio::test]
async fn rotations_are_logged_by_family_and_no_secret_is() {
    let log = captured_log();
    let (gw, mut b, _) = signed_in().await;
    let (verifier, challenge) = pkce();
    let code = code_for(&gw, &mut b, &challenge).await;
    let a = exchange(&gw, &code, &verifier, &[]).await;
    let mut refresh = a.json["refresh_token"].as_str().unwrap().to_owned();
    let family = gw
        .team
        .signer
        .verify(a.json["access_token"].as_str().unwrap())
        .unwrap()
        .family_id;
    let mut secrets = vec![code, verifier, refresh.clone()];
    for _ in 0..2 {
        let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
        let r = token(&gw, &form).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        refresh = r.json["refresh_token"].as_str().unwrap().to_owned();
        secrets.push(refresh.clone());
        secrets.push(r.json["access_token"].as_str().unwrap().to_owned());
    }
    let text = log.text();
    let rotated = text
        .lines()
        .filter(|l| l.contains("refresh token rotated") && l.contains(&family))
        .count();
    assert_eq!(rotated, 2, "{text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret is in the log");
        assert!(
            !text.contains(&sha256_hex(secret)),
            "a digest is in the log"
        );
    }
}
