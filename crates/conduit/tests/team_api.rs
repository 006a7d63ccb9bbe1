//! The team API over a real SQLite store in a temp dir, through `Router::oneshot`: one table of
//! bad-input and role cases (method, path, credential, body → status, error type, message), then
//! short stories for login, throttling, secrets, expiry, revocation, verbatim names and the audit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use conduit::config::DebugMode;
use conduit::state::TeamState;
use conduit::team::cache::AuthCache;
use conduit_store::{CredentialKind, Role, Store};
use conduit_upstream::clock::ManualClock;
use serde_json::{json, Value};
use team_support::{app_state, fake_upstream, Answer as Reply, Setup, TempDir};
use tower::ServiceExt;

const IP: [u8; 4] = [10, 1, 2, 3];
const ADMIN_PW: &str = "admin-password-1";
const MEMBER_PW: &str = "member-password-1";
const AUDITOR_PW: &str = "auditor-password-1";

/// Which credential a request carries.
#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    Admin,
    Member,
    Auditor,
    /// The member's virtual key.
    Key,
    /// A well-formed session token nobody was given.
    Bogus,
}

struct App {
    router: Router,
    store: Store,
    cache: Arc<AuthCache>,
    clock: Arc<ManualClock>,
    team: TeamState,
    _dir: TempDir,
    admin: String,
    member: String,
    auditor: String,
    key: String,
    admin_id: String,
    member_id: String,
    member_key_id: String,
    admin_key_id: String,
}

impl App {
    /// A store with an admin, a member and an auditor (all signed in over the API), and one key
    /// each for the admin and the member.
    async fn new() -> App {
        let (dir, store) = team_support::temp_store().await;
        let mut ids = Vec::new();
        for (subject, role, pw) in [
            ("admin", Role::Admin, ADMIN_PW),
            ("member", Role::Member, MEMBER_PW),
            ("auditor", Role::Auditor, AUDITOR_PW),
        ] {
            ids.push(team_support::user(&store, subject, role, Some(pw)).await);
        }
        let team = team_support::team_state(&store, &Setup::default()).await;
        let cache = team.cache.clone();
        let clock = Arc::new(ManualClock::default());
        let router = team_support::api_router(team.clone(), clock.clone());
        let mut app = App {
            router,
            store,
            cache,
            clock,
            team,
            _dir: dir,
            admin: String::new(),
            member: String::new(),
            auditor: String::new(),
            key: String::new(),
            admin_id: ids[0].clone(),
            member_id: ids[1].clone(),
            member_key_id: String::new(),
            admin_key_id: String::new(),
        };
        app.admin = app.login("admin", ADMIN_PW).await;
        app.member = app.login("member", MEMBER_PW).await;
        app.auditor = app.login("auditor", AUDITOR_PW).await;
        let r = app
            .call("POST", "/me/keys", Cred::Member, r#"{"name":"laptop"}"#)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        app.key = r.json["key"].as_str().unwrap().to_owned();
        app.member_key_id = r.json["id"].as_str().unwrap().to_owned();
        let r = app
            .call("POST", "/admin/keys", Cred::Admin, r#"{"name":"ci"}"#)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        app.admin_key_id = r.json["id"].as_str().unwrap().to_owned();
        app
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({"username": username, "password": password}).to_string();
        let r = self.call("POST", "/auth/login", Cred::None, &body).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        r.json["token"].as_str().unwrap().to_owned()
    }

    fn secret(&self, cred: Cred) -> Option<String> {
        match cred {
            Cred::None => None,
            Cred::Admin => Some(self.admin.clone()),
            Cred::Member => Some(self.member.clone()),
            Cred::Auditor => Some(self.auditor.clone()),
            Cred::Key => Some(self.key.clone()),
            Cred::Bogus => Some(format!("cst_{}", "0".repeat(64))),
        }
    }

    async fn call(&self, method: &str, path: &str, cred: Cred, body: &str) -> Reply {
        let secret = self.secret(cred);
        self.call_with(method, path, secret.as_deref(), body.as_bytes().to_vec())
            .await
    }

    /// One request with the cache left as it is (no sync first).
    async fn call_unsynced(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Body::from(body.to_owned())).unwrap();
        team_support::send(&self.router, req).await
    }

    /// One request from [`IP`], the cache synced first (no sync task runs here, and a cache
    /// that has not synced for 3 s fails closed).
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        secret: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        self.cache.sync_now(&self.store).await.unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(s) = secret {
            req = req.header("authorization", format!("Bearer {s}"));
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((IP, 40000))));
        team_support::send(&self.router, req).await
    }

    fn fill(&self, path: &str) -> String {
        path.replace("{member_id}", &self.member_id)
            .replace("{admin_id}", &self.admin_id)
            .replace("{member_key}", &self.member_key_id)
            .replace("{admin_key}", &self.admin_key_id)
    }
}

/// Assert an error answer: status, Anthropic envelope, type, message fragment; 401s say not to
/// retry.
fn assert_error(r: &Reply, status: u16, etype: &str, fragment: &str, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    assert_eq!(r.json["type"], "error", "{what}: {}", r.text);
    assert_eq!(r.json["error"]["type"], etype, "{what}: {}", r.text);
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "{what}: message {message:?} lacks {fragment:?}"
    );
    if status == 401 {
        assert_eq!(r.headers["x-should-retry"], "false", "{what}");
    }
}

struct Case {
    method: &'static str,
    path: &'static str,
    cred: Cred,
    body: String,
    status: u16,
    etype: &'static str,
    fragment: &'static str,
}

fn case(
    method: &'static str,
    path: &'static str,
    cred: Cred,
    body: &str,
    status: u16,
    etype: &'static str,
    fragment: &'static str,
) -> Case {
    Case {
        method,
        path,
        cred,
        body: body.to_owned(),
        status,
        etype,
        fragment,
    }
}

const AUTH: &str = "authentication_error";
const PERM: &str = "permission_error";
const BAD: &str = "invalid_request_error";
const NOT_FOUND: &str = "not_found_error";
const NOT_ADMIN_CRED: &str = "virtual keys are not admin credentials; sign in with /auth/login";
const AUDITOR_WRITE: &str = "auditors can read but not change anything";

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Cred::*;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
    vec![
        // Credentials.
        case("GET", "/admin/keys", None, "", 401, AUTH, "missing credentials"),
        case("GET", "/admin/keys", Bogus, "", 401, AUTH, "invalid"),
        case("GET", "/admin/keys", Key, "", 401, AUTH, NOT_ADMIN_CRED),
        case("GET", "/me/keys", Key, "", 401, AUTH, NOT_ADMIN_CRED),
        case("POST", "/me/keys", Key, "{}", 401, AUTH, NOT_ADMIN_CRED),
        case("POST", "/auth/logout", Key, "", 401, AUTH, NOT_ADMIN_CRED),
        case("POST", "/auth/logout", None, "", 401, AUTH, "missing credentials"),
        case("GET", "/auth/me", None, "", 401, AUTH, "missing credentials"),
        // Roles: a member on admin routes.
        case("GET", "/admin/keys", Member, "", 403, PERM, "admin or auditor role required"),
        case("GET", "/admin/users", Member, "", 403, PERM, "admin or auditor role required"),
        case("GET", "/admin/teams", Member, "", 403, PERM, "admin or auditor role required"),
        case("GET", "/admin/audit", Member, "", 403, PERM, "admin or auditor role required"),
        case("POST", "/admin/keys", Member, r#"{"name":"x"}"#, 403, PERM, "admin role required"),
        // The role is checked before the body is read.
        case("POST", "/admin/keys", Member, "{oops", 403, PERM, "admin role required"),
        case("POST", "/admin/users", Member, r#"{"subject":"x"}"#, 403, PERM, "admin role required"),
        case("POST", "/admin/keys/{member_key}/revoke", Member, "", 403, PERM, "admin role required"),
        // An auditor writing.
        case("POST", "/admin/keys", Auditor, r#"{"name":"x"}"#, 403, PERM, AUDITOR_WRITE),
        case("POST", "/admin/keys/{member_key}/revoke", Auditor, "", 403, PERM, AUDITOR_WRITE),
        case("POST", "/admin/users", Auditor, r#"{"subject":"x"}"#, 403, PERM, AUDITOR_WRITE),
        case("PATCH", "/admin/users/{member_id}", Auditor, r#"{"active":false}"#, 403, PERM, AUDITOR_WRITE),
        case("PUT", "/admin/users/{member_id}/team", Auditor, r#"{"team_id":null}"#, 403, PERM, AUDITOR_WRITE),
        case("POST", "/admin/teams", Auditor, r#"{"name":"x"}"#, 403, PERM, AUDITOR_WRITE),
        // Malformed bodies name the field.
        case("POST", "/admin/keys", Admin, r#"{"name":"k","rate_limit_rpm":"ten"}"#, 400, BAD, "rate_limit_rpm"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k","rate_limit_rpm":0}"#, 400, BAD, "rate_limit_rpm: must be at least 1"),
        case("POST", "/me/keys", Member, r#"{"rate_limit_rpm":-5}"#, 400, BAD, "rate_limit_rpm: must be at least 1"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k","expires_at":"2001-01-01T00:00:00Z"}"#, 400, BAD, "expires_at: 2001-01-01T00:00:00Z is in the past"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k","expires_at":"tomorrow"}"#, 400, BAD, "expires_at: not an RFC 3339 time"),
        case("POST", "/admin/keys", Admin, r#"{"name":["k"]}"#, 400, BAD, "name: invalid type"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k""#, 400, BAD, "not valid JSON"),
        case("POST", "/admin/keys", Admin, "[1,2]", 400, BAD, "JSON object"),
        case("POST", "/admin/keys", Admin, "", 400, BAD, "empty"),
        case("POST", "/admin/users", Admin, r#"{"subject":"bob","email":7}"#, 400, BAD, "email: invalid type"),
        case("POST", "/admin/users", Admin, r#"{"subject":"bob","role":"superuser"}"#, 400, BAD, "role: must be member, admin or auditor"),
        case("POST", "/admin/users", Admin, "{}", 400, BAD, "subject: required"),
        case("POST", "/admin/users", Admin, r#"{"subject":"bob","password":"short"}"#, 400, BAD, "password: must be at least 12"),
        case("POST", "/admin/users", Admin, r#"{"subject":"member"}"#, 400, BAD, "is already taken"),
        case("PATCH", "/admin/users/{member_id}", Admin, r#"{"active":"no"}"#, 400, BAD, "active: invalid type"),
        case("PATCH", "/admin/users/{member_id}", Admin, "{}", 400, BAD, "nothing to change"),
        case("PATCH", "/admin/users/{member_id}", Admin, r#"{"role":"root"}"#, 400, BAD, "role: must be member, admin or auditor"),
        case("PUT", "/admin/users/{member_id}", Admin, r#"{"role":"owner"}"#, 400, BAD, "role: must be member, admin or auditor"),
        case("PUT", "/admin/users/{admin_id}", Admin, r#"{"role":"member"}"#, 400, BAD, "demote yourself"),
        case("PATCH", "/admin/users/{admin_id}", Admin, r#"{"active":false}"#, 400, BAD, "you cannot deactivate or demote yourself"),
        case("PUT", "/admin/users/{member_id}/team", Admin, r#"{"team_id":5}"#, 400, BAD, "team_id: invalid type"),
        case("POST", "/admin/teams", Admin, r#"{"name":""}"#, 400, BAD, "name: must not be empty"),
        case("POST", "/admin/teams", Admin, "{}", 400, BAD, "missing field `name`"),
        case("POST", "/auth/login", None, r#"{"username":"admin"}"#, 400, BAD, "missing field `password`"),
        case("GET", "/admin/audit?limit=0", Admin, "", 400, BAD, "limit: must be between 1 and 1000"),
        case("GET", "/admin/audit?limit=lots", Admin, "", 400, BAD, "limit"),
        case("GET", "/admin/audit?before=no-such-entry", Auditor, "", 404, NOT_FOUND, "audit entry not found"),
        // Unknown ids; another member's key looks unknown too.
        case("POST", "/admin/keys/no-such-key/revoke", Admin, "", 404, NOT_FOUND, "key not found"),
        case("POST", "/me/keys/no-such-key/revoke", Member, "", 404, NOT_FOUND, "key not found"),
        case("POST", "/me/keys/{admin_key}/revoke", Member, "", 404, NOT_FOUND, "key not found"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k","user_id":"no-such-user"}"#, 404, NOT_FOUND, "user not found"),
        case("POST", "/admin/keys", Admin, r#"{"name":"k","team_id":"no-such-team"}"#, 404, NOT_FOUND, "team not found"),
        case("PATCH", "/admin/users/no-such-user", Admin, r#"{"active":false}"#, 404, NOT_FOUND, "user not found"),
        case("PUT", "/admin/users/no-such-user/team", Admin, r#"{"team_id":null}"#, 404, NOT_FOUND, "user not found"),
        case("PUT", "/admin/users/{member_id}/team", Admin, r#"{"team_id":"no-such-team"}"#, 404, NOT_FOUND, "team not found"),
        // Oversized bodies.
        case("POST", "/admin/teams", Admin, &big, 413, "request_too_large", "64 KiB"),
        case("POST", "/auth/login", None, &big, 413, "request_too_large", "64 KiB"),
    ]
}

#[tokio::test]
async fn bad_input_and_roles_answer_clear_errors_in_the_anthropic_envelope() {
    let app = App::new().await;
    let cases = cases();
    for c in &cases {
        let path = app.fill(c.path);
        let r = app.call(c.method, &path, c.cred, &c.body).await;
        let what = format!("{} {} as {:?}", c.method, path, c.cred);
        assert_error(&r, c.status, c.etype, c.fragment, &what);
    }
    // None of the refused writes happened: the member's key still works, nobody was renamed.
    let r = app.call("GET", "/auth/me", Cred::Key, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.call("GET", "/admin/teams", Cred::Auditor, "").await;
    assert_eq!(r.json["teams"], json!([]));
}

#[tokio::test]
async fn auditors_read_every_admin_list() {
    let app = App::new().await;
    for path in [
        "/admin/keys",
        "/admin/users",
        "/admin/teams",
        "/admin/audit",
    ] {
        let r = app.call("GET", path, Cred::Auditor, "").await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = App::new().await;
    let wrong = app
        .call(
            "POST",
            "/auth/login",
            Cred::None,
            r#"{"username":"admin","password":"nope-nope"}"#,
        )
        .await;
    let unknown = app
        .call(
            "POST",
            "/auth/login",
            Cred::None,
            r#"{"username":"ghost","password":"nope-nope"}"#,
        )
        .await;
    assert_error(
        &wrong,
        401,
        AUTH,
        "invalid username or password",
        "wrong password",
    );
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(unknown.headers["x-should-retry"], "false");
    // Both failures are audited, with the address and the name tried, never the password.
    let r = app.call("GET", "/admin/audit", Cred::Admin, "").await;
    let failed: Vec<&Value> = r.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .collect();
    assert_eq!(failed.len(), 2, "{}", r.text);
    assert!(failed.iter().all(|e| e["ip"] == "10.1.2.3"));
    assert!(!r.text.contains("nope-nope"));
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let app = App::new().await;
    let wrong = r#"{"username":"member","password":"wrong-password"}"#;
    let right = json!({"username": "member", "password": MEMBER_PW}).to_string();
    for _ in 0..5 {
        let r = app.call("POST", "/auth/login", Cred::None, wrong).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = app.call("POST", "/auth/login", Cred::None, &right).await;
    assert_error(
        &r,
        429,
        "rate_limit_error",
        "too many failed sign-ins",
        "throttled",
    );
    assert_eq!(r.headers["retry-after"], "1");
    // Waiting out the delay lets the right password in; a success clears the user's count.
    app.clock.advance(Duration::from_secs(1));
    let r = app.call("POST", "/auth/login", Cred::None, &right).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The address keeps its count: the next failure from it waits 2 s.
    let r = app.call("POST", "/auth/login", Cred::None, wrong).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.call("POST", "/auth/login", Cred::None, &right).await;
    assert_error(&r, 429, "rate_limit_error", "", "throttled again");
    assert_eq!(r.headers["retry-after"], "2");
}

#[tokio::test]
async fn login_answers_a_session_token_that_expires_and_logout_ends_it() {
    let app = App::new().await;
    let body = json!({"username": "admin", "password": ADMIN_PW}).to_string();
    let r = app.call("POST", "/auth/login", Cred::None, &body).await;
    assert_eq!(r.status, StatusCode::OK);
    let token = r.json["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cst_") && token.len() == 68, "{token}");
    assert_eq!(r.json["type"], "session");
    assert_eq!(r.json["role"], "admin");
    assert_eq!(r.json["user_id"], app.admin_id.as_str());
    let expires = r.json["expires_at"].as_str().unwrap();
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::hours(23) && ttl <= time::Duration::hours(24),
        "{ttl}"
    );

    let me = app
        .call_with("GET", "/auth/me", Some(&token), Vec::new())
        .await;
    assert_eq!(me.json["type"], "session", "{}", me.text);
    assert_eq!(me.json["subject"], "admin");
    let r = app
        .call_with("POST", "/auth/logout", Some(&token), Vec::new())
        .await;
    assert_eq!(r.json, json!({"logged_out": true}));
    let r = app
        .call_with("GET", "/admin/users", Some(&token), Vec::new())
        .await;
    assert_error(&r, 401, AUTH, "", "after logout");

    // A session whose time is up is refused; one still running, inserted the same way, works.
    for (offset, status) in [(-1, 401), (3600, 200)] {
        let expires = Some(team_support::now() + offset);
        let session = CredentialKind::Session;
        let (secret, _) =
            team_support::credential(&app.store, session, &app.admin_id, None, expires).await;
        let r = app
            .call_with("GET", "/admin/users", Some(&secret), Vec::new())
            .await;
        assert_eq!(r.status.as_u16(), status, "offset {offset}: {}", r.text);
    }
}

#[tokio::test]
async fn keys_are_shown_once_and_listed_without_secrets() {
    let app = App::new().await;
    let r = app
        .call("POST", "/admin/keys", Cred::Admin, &json!({"name": "svc", "user_id": app.member_id, "rate_limit_rpm": 60, "expires_at": "2099-01-01T00:00:00Z"}).to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.json["key"].as_str().unwrap().to_owned();
    let hex_part = key.strip_prefix("sk-proxy-").unwrap();
    assert_eq!(hex_part.len(), 64);
    assert!(hex_part
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(r.json["prefix"], format!("{}...", &key[..16]));
    assert_eq!(r.json["expires_at"], "2099-01-01T00:00:00Z");
    assert!(r.json["created_at"].is_string() && r.json["id"].is_string());
    let digest = team_support::sha256_hex(&key);

    for (path, cred) in [
        ("/admin/keys", Cred::Admin),
        ("/admin/keys", Cred::Auditor),
        ("/me/keys", Cred::Member),
    ] {
        let r = app.call("GET", path, cred, "").await;
        assert_eq!(r.status, StatusCode::OK);
        for secret in [key.as_str(), digest.as_str(), app.key.as_str()] {
            assert!(
                !r.text.contains(secret),
                "{path} leaks a secret: {}",
                r.text
            );
        }
        let listed = r.json["keys"].as_array().unwrap();
        let svc = listed.iter().find(|k| k["name"] == "svc").unwrap();
        for field in [
            "id",
            "prefix",
            "name",
            "user_id",
            "team_id",
            "is_active",
            "rate_limit_rpm",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "revoked",
        ] {
            assert!(svc.get(field).is_some(), "{path}: no {field} in {svc}");
        }
        assert_eq!(svc["user_id"], app.member_id.as_str());
        assert_eq!(svc["rate_limit_rpm"], 60);
        assert_eq!(svc["is_active"], true);
    }
    // The member sees only their own keys.
    let r = app.call("GET", "/me/keys", Cred::Member, "").await;
    assert!(r.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["user_id"] == app.member_id.as_str()));
    assert!(!r.text.contains(&app.admin_key_id));
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_and_a_near_miss_never_matches() {
    let app = App::new().await;
    let r = app.call("GET", "/auth/me", Cred::Key, "").await;
    assert_eq!(r.json["type"], "virtual_key", "{}", r.text);
    assert_eq!(r.json["user_id"], app.member_id.as_str());
    assert_eq!(r.json["role"], "member");
    // Same prefix, last character changed: refused (digest lookup, constant-time compare).
    let mut near = app.key.clone();
    let last = near.pop().unwrap();
    near.push(if last == '0' { '1' } else { '0' });
    let r = app
        .call_with("GET", "/auth/me", Some(&near), Vec::new())
        .await;
    assert_error(&r, 401, AUTH, "", "near miss");
    let r = app
        .call_with(
            "GET",
            "/auth/me",
            Some(&app.key[..app.key.len() - 1]),
            Vec::new(),
        )
        .await;
    assert_error(&r, 401, AUTH, "", "truncated");

    let path = format!("/me/keys/{}/revoke", app.member_key_id);
    let r = app.call("POST", &path, Cred::Member, "").await;
    assert_eq!(r.json, json!({"revoked": true}), "{}", r.text);
    let r = app.call("GET", "/auth/me", Cred::Key, "").await;
    assert_error(&r, 401, AUTH, "", "revoked key");
    let r = app.call("GET", "/me/keys", Cred::Member, "").await;
    let listed = &r.json["keys"][0];
    assert_eq!(listed["revoked"], true);
    assert_eq!(listed["is_active"], false);
    assert!(listed["revoked_at"].is_string());
    // Revoking again is harmless; an admin may revoke anyone's key.
    let r = app.call("POST", &path, Cred::Member, "").await;
    assert_eq!(r.status, StatusCode::OK);
    let path = format!("/admin/keys/{}/revoke", app.admin_key_id);
    let r = app.call("POST", &path, Cred::Admin, "").await;
    assert_eq!(r.json, json!({"revoked": true}));
}

#[tokio::test]
async fn a_deactivated_user_is_refused_until_brought_back() {
    let app = App::new().await;
    let path = format!("/admin/users/{}", app.member_id);
    let r = app
        .call("PATCH", &path, Cred::Admin, r#"{"active":false}"#)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["active"], false);
    for cred in [Cred::Member, Cred::Key] {
        let r = app.call("GET", "/auth/me", cred, "").await;
        assert_error(&r, 401, AUTH, "", "deactivated");
    }
    let body = json!({"username": "member", "password": MEMBER_PW}).to_string();
    let r = app.call("POST", "/auth/login", Cred::None, &body).await;
    assert_error(
        &r,
        401,
        AUTH,
        "invalid username or password",
        "deactivated login",
    );
    let r = app
        .call("PATCH", &path, Cred::Admin, r#"{"active":true}"#)
        .await;
    assert_eq!(r.json["active"], true);
    let r = app.call("GET", "/auth/me", Cred::Key, "").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = App::new().await;
    let r = app.call("GET", "/admin/users", Cred::Member, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // CCAG's PUT, then conduit's PATCH.
    let path = format!("/admin/users/{}", app.member_id);
    let r = app
        .call("PUT", &path, Cred::Admin, r#"{"role":"auditor"}"#)
        .await;
    assert_eq!(r.json, json!({"updated": true}), "{}", r.text);
    let r = app.call("GET", "/admin/users", Cred::Member, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call("POST", "/admin/teams", Cred::Member, r#"{"name":"t"}"#)
        .await;
    assert_error(&r, 403, PERM, AUDITOR_WRITE, "promoted to auditor");
    let r = app
        .call("PATCH", &path, Cred::Admin, r#"{"role":"member"}"#)
        .await;
    assert_eq!(r.json["role"], "member", "{}", r.text);
    let r = app.call("GET", "/admin/users", Cred::Member, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn names_with_quotes_sql_and_html_come_back_verbatim() {
    let app = App::new().await;
    let nasty = r#"Robert'); DROP TABLE teams;-- "quoted" <script>alert('x')</script> & ünï\cøde"#;
    let r = app
        .call(
            "POST",
            "/admin/teams",
            Cred::Admin,
            &json!({"name": nasty}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["name"], nasty);
    let team_id = r.json["id"].as_str().unwrap().to_owned();
    // The same name again is taken: a 400 that quotes it, and no second team.
    let again = json!({"name": nasty}).to_string();
    let r = app.call("POST", "/admin/teams", Cred::Admin, &again).await;
    assert_error(&r, 400, BAD, "is already taken", "same team name");
    let subject = format!("{nasty} user");
    let body = json!({"subject": subject, "email": "o'brien+<x>@example.com", "team_id": team_id});
    let r = app
        .call("POST", "/admin/users", Cred::Admin, &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["subject"], subject.as_str());
    assert_eq!(r.json["team_id"], team_id.as_str());
    let user_id = r.json["id"].as_str().unwrap().to_owned();
    let body = json!({"name": nasty, "user_id": user_id});
    let r = app
        .call("POST", "/admin/keys", Cred::Admin, &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["name"], nasty);
    // The key went to the owner's team by default.
    assert_eq!(r.json["team_id"], team_id.as_str());

    let teams = app.call("GET", "/admin/teams", Cred::Admin, "").await;
    assert!(teams.json["teams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == nasty));
    let users = app.call("GET", "/admin/users", Cred::Admin, "").await;
    let u = users.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(u["subject"], subject.as_str());
    assert_eq!(u["email"], "o'brien+<x>@example.com");
    assert!(u.get("password_hash").is_none());
    let keys = app.call("GET", "/admin/keys", Cred::Admin, "").await;
    assert!(keys.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == nasty));
    // Serde escapes for JSON only: no HTML entities.
    assert!(!keys.text.contains("&lt;") && !keys.text.contains("&amp;"));
}

#[tokio::test]
async fn users_move_between_teams_with_ccag_shapes() {
    let app = App::new().await;
    let r = app
        .call(
            "POST",
            "/admin/teams",
            Cred::Admin,
            r#"{"name":"platform"}"#,
        )
        .await;
    let team_id = r.json["id"].as_str().unwrap().to_owned();
    // CCAG sends only an email: it becomes the subject, the role defaults to member.
    let r = app
        .call(
            "POST",
            "/admin/users",
            Cred::Admin,
            r#"{"email":"dev@example.com"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["subject"], "dev@example.com");
    assert_eq!(r.json["role"], "member");
    assert_eq!(r.json["active"], true);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/users/{id}/team");
    let r = app
        .call(
            "PUT",
            &path,
            Cred::Admin,
            &json!({"team_id": team_id}).to_string(),
        )
        .await;
    assert_eq!(r.json, json!({"updated": true}), "{}", r.text);
    let users = app.call("GET", "/admin/users", Cred::Admin, "").await;
    let u = users.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(u["team_id"], team_id.as_str());
    let r = app
        .call("PUT", &path, Cred::Admin, r#"{"team_id":null}"#)
        .await;
    assert_eq!(r.json, json!({"updated": true}));
    // Unknown fields are ignored, as CCAG does.
    let r = app
        .call(
            "POST",
            "/admin/users",
            Cred::Admin,
            r#"{"email":"x@example.com","spend_limit_monthly_usd":5}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn every_write_is_audited_with_who_and_where() {
    let app = App::new().await;
    let r = app
        .call("POST", "/admin/teams", Cred::Admin, r#"{"name":"audited"}"#)
        .await;
    let team_id = r.json["id"].as_str().unwrap().to_owned();
    let member = format!("/admin/users/{}", app.member_id);
    app.call(
        "PUT",
        &format!("{member}/team"),
        Cred::Admin,
        &json!({"team_id": team_id}).to_string(),
    )
    .await;
    app.call("PATCH", &member, Cred::Admin, r#"{"active":true}"#)
        .await;
    app.call(
        "POST",
        "/admin/users",
        Cred::Admin,
        r#"{"subject":"carol","password":"carol-password"}"#,
    )
    .await;
    app.call(
        "POST",
        &format!("/admin/keys/{}/revoke", app.admin_key_id),
        Cred::Admin,
        "",
    )
    .await;
    app.call("POST", "/auth/logout", Cred::Auditor, "").await;
    let r = app
        .call("GET", "/admin/audit?limit=1000", Cred::Admin, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let entries = r.json["entries"].as_array().unwrap();
    let find = |action: &str, target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && (target.is_empty() || e["target"] == target))
            .unwrap_or_else(|| panic!("no {action} {target} in {}", r.text))
    };
    for (action, target, actor) in [
        ("team.create", team_id.as_str(), "user:admin"),
        ("user.team", app.member_id.as_str(), "user:admin"),
        ("user.update", app.member_id.as_str(), "user:admin"),
        ("user.create", "", "user:admin"),
        ("key.create", app.member_key_id.as_str(), "user:member"),
        ("key.create", app.admin_key_id.as_str(), "user:admin"),
        ("key.revoke", app.admin_key_id.as_str(), "user:admin"),
        ("auth.login", "", "user:auditor"),
        ("auth.logout", "", "user:auditor"),
    ] {
        let e = find(action, target);
        assert_eq!(e["actor"], actor, "{action}: {e}");
        assert_eq!(e["ip"], "10.1.2.3", "{action}: {e}");
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
        assert!(e["user_id"].is_string(), "{e}");
    }
    // Newest first, and `before` pages on.
    let first = entries[0]["id"].as_str().unwrap();
    let r = app
        .call(
            "GET",
            &format!("/admin/audit?limit=2&before={first}"),
            Cred::Admin,
            "",
        )
        .await;
    let page = r.json["entries"].as_array().unwrap();
    assert_eq!(page.len(), 2, "{}", r.text);
    assert_eq!(page[0]["id"], entries[1]["id"]);
    // No secret ever lands in the log.
    assert!(!r.text.contains("carol-password") && !r.text.contains(&app.key));
}

#[tokio::test]
async fn either_header_carries_the_session_and_a_stray_one_does_not_lock_out() {
    let app = App::new().await;
    app.cache.sync_now(&app.store).await.unwrap();
    let bearer = format!("Bearer {}", app.admin);
    let bogus = format!("cst_{}", "1".repeat(64));
    for headers in [
        vec![("x-api-key", app.admin.as_str())],
        vec![("authorization", bearer.as_str())],
        vec![
            ("x-api-key", bogus.as_str()),
            ("authorization", bearer.as_str()),
        ],
        // A virtual key next to the session: the session counts.
        vec![
            ("x-api-key", app.key.as_str()),
            ("authorization", bearer.as_str()),
        ],
    ] {
        let r = app.call_unsynced("GET", "/admin/users", &headers, "").await;
        assert_eq!(r.status, StatusCode::OK, "{headers:?}: {}", r.text);
    }
    // No ConnectInfo (a oneshot without a server): the write still works, with no address.
    let headers = [("x-api-key", app.admin.as_str())];
    let r = app
        .call_unsynced("POST", "/admin/teams", &headers, r#"{"name":"no-ip"}"#)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_store_that_went_away_answers_503_not_a_guess() {
    let app = App::new().await;
    app.cache.sync_now(&app.store).await.unwrap();
    app.store.close().await;
    let headers = [("x-api-key", app.admin.as_str())];
    for (method, path, body) in [
        ("POST", "/admin/teams", r#"{"name":"later"}"#),
        ("GET", "/admin/users", ""),
        (
            "POST",
            "/auth/login",
            r#"{"username":"admin","password":"whatever-1"}"#,
        ),
    ] {
        let r = app.call_unsynced(method, path, &headers, body).await;
        assert_error(&r, 503, "api_error", "the team store is unreachable", path);
    }
}

#[tokio::test]
async fn personal_mode_has_no_team_api() {
    let router = conduit::team::api::router().with_state(app_state(
        None,
        fake_upstream(None),
        DebugMode::Off,
    ));
    let req = Request::get("/admin/keys").body(Body::empty()).unwrap();
    let resp = router.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn mounted_in_the_gateway_the_api_keeps_its_limits_and_its_keys_open_v1() {
    const PORT: u16 = 8767;
    let app = App::new().await;
    conduit::routes::local_only::allow_port(PORT);
    let state = app_state(Some(app.team.clone()), fake_upstream(None), DebugMode::Off);
    let gateway = conduit::routes::router(state);
    let send = |method: &str, path: &str, secret: Option<&str>, body: String| {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{PORT}"))
            .header("content-type", "application/json");
        if let Some(s) = secret {
            req = req.header("x-api-key", s);
        }
        gateway.clone().oneshot(req.body(Body::from(body)).unwrap())
    };
    // The gateway's 32 MiB body limit does not replace the admin API's 64 KiB.
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
    let resp = send("POST", "/admin/teams", Some(&app.admin), big)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A key made through the API opens /v1; the admin API refuses it.
    let resp = send("GET", "/v1/models", Some(&app.key), String::new())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = send("GET", "/me/keys", Some(&app.key), String::new())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["x-should-retry"], "false");
}
