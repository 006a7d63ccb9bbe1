//! Team mode's `/v1` guard over a real SQLite team store (in a temp dir), through
//! `routes::router` with a `FakeUpstream`: one table of cases (credential → request in the
//! Anthropic and the OpenAI dialect → status, error type, `x-should-retry`, `retry-after`),
//! then what the upstream and the handler see (no gateway credential) and what the access log
//! says (key id and user, never the key).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use conduit::config::DebugMode;
use conduit::state::TeamState;
use conduit::team::Principal;
use conduit_store::{CredentialKind, Role, Store};
use serde_json::{json, Value};
use team_support::{credential, now, system as actor, user, Gateway, Setup};

const PORT: u16 = 8765;

/// A team store with these credentials (name → secret, id), loaded into a gateway (`team`,
/// `upstream`, `app` through `Deref`).
struct Env {
    gateway: Gateway,
    secrets: HashMap<&'static str, (String, String)>,
}

impl Deref for Env {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

async fn env(debug_mode: DebugMode) -> Env {
    let (dir, store) = team_support::temp_store().await;
    let alice = user(&store, "alice", Role::Member, None).await;
    let bob = user(&store, "bob", Role::Member, None).await;
    let key = CredentialKind::Key;
    let mut secrets = HashMap::new();
    secrets.insert("valid", credential(&store, key, &alice, None, None).await);
    let session = CredentialKind::Session;
    let in_a_day = Some(now() + 86_400);
    secrets.insert(
        "session",
        credential(&store, session, &alice, None, in_a_day).await,
    );
    let revoked = credential(&store, key, &alice, None, None).await;
    store
        .revoke_credential(&revoked.1, "key.revoke", &actor())
        .await
        .unwrap();
    secrets.insert("revoked", revoked);
    let expired = Some(now() - 1);
    secrets.insert(
        "expired",
        credential(&store, key, &alice, None, expired).await,
    );
    secrets.insert("inactive", credential(&store, key, &bob, None, None).await);
    store.set_user_active(&bob, false, &actor()).await.unwrap();
    secrets.insert(
        "limited",
        credential(&store, key, &alice, Some(1), None).await,
    );
    secrets.insert(
        "unknown",
        (format!("sk-proxy-{}", "0".repeat(64)), "-".into()),
    );
    let setup = Setup {
        port: PORT,
        debug_mode,
        messages_lane: Some(7),
        ..Setup::default()
    };
    Env {
        gateway: team_support::gateway(dir, store, setup).await,
        secrets,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dialect {
    Anthropic,
    OpenAi,
}

/// How the credential is presented.
#[derive(Clone, Copy, Debug)]
enum Present {
    /// The dialect's usual header (`x-api-key` for Anthropic, `Bearer` for OpenAI).
    Usual(&'static str),
    /// `x-api-key: first` and `Authorization: Bearer second`.
    Both(&'static str, &'static str),
    None,
}

fn request(env: &Env, dialect: Dialect, present: Present) -> Request<Body> {
    let secret = |name: &str| env.secrets[name].0.clone();
    let (path, body) = match dialect {
        Dialect::Anthropic => (
            "/v1/messages",
            json!({"model": "claude-x", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        Dialect::OpenAi => (
            "/v1/chat/completions",
            json!({"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}),
        ),
    };
    let mut r = Request::post(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("content-type", "application/json");
    if dialect == Dialect::Anthropic {
        r = r.header("anthropic-version", "2023-06-01");
    }
    r = match (present, dialect) {
        (Present::Usual(name), Dialect::Anthropic) => r.header("x-api-key", secret(name)),
        (Present::Usual(name), Dialect::OpenAi) => {
            r.header("authorization", format!("Bearer {}", secret(name)))
        }
        (Present::Both(first, second), _) => r
            .header("x-api-key", secret(first))
            .header("authorization", format!("Bearer {}", secret(second))),
        (Present::None, _) => r,
    };
    r.body(Body::from(body.to_string())).unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let a = team_support::send(app, request).await;
    (a.status, a.headers, a.json)
}

/// What to do before the request.
#[derive(Clone, Copy, Debug)]
enum Before {
    Nothing,
    /// The last successful sync is long gone (the store unreachable).
    Stale,
    /// One request of the same credential first.
    SendOnce,
}

struct Case {
    name: &'static str,
    present: Present,
    before: Before,
    status: u16,
    /// The error type (Anthropic, OpenAI), when refused.
    error: Option<(&'static str, &'static str)>,
    should_retry_false: bool,
    retry_after: bool,
}

const AUTH: Option<(&str, &str)> = Some(("authentication_error", "invalid_request_error"));

fn cases() -> Vec<Case> {
    let ok = |name, present| Case {
        name,
        present,
        before: Before::Nothing,
        status: 200,
        error: None,
        should_retry_false: false,
        retry_after: false,
    };
    let refused = |name, present| Case {
        name,
        present,
        before: Before::Nothing,
        status: 401,
        error: AUTH,
        should_retry_false: true,
        retry_after: false,
    };
    vec![
        ok("valid key", Present::Usual("valid")),
        ok("session token", Present::Usual("session")),
        ok(
            "a wrong x-api-key next to a valid Bearer",
            Present::Both("unknown", "valid"),
        ),
        ok(
            "a valid x-api-key next to a wrong Bearer",
            Present::Both("valid", "revoked"),
        ),
        refused("unknown key", Present::Usual("unknown")),
        refused("revoked key", Present::Usual("revoked")),
        refused("expired key", Present::Usual("expired")),
        refused("inactive user's key", Present::Usual("inactive")),
        refused("no credential", Present::None),
        refused("two wrong credentials", Present::Both("unknown", "expired")),
        Case {
            name: "stale store fails closed",
            present: Present::Usual("valid"),
            before: Before::Stale,
            status: 503,
            error: Some(("api_error", "server_error")),
            should_retry_false: false,
            retry_after: false,
        },
        ok(
            "first request under the RPM limit",
            Present::Usual("limited"),
        ),
        Case {
            name: "over the RPM limit",
            present: Present::Usual("limited"),
            before: Before::SendOnce,
            status: 429,
            error: Some(("rate_limit_error", "rate_limit_error")),
            should_retry_false: false,
            retry_after: true,
        },
    ]
}

#[tokio::test]
async fn guard_table_in_both_dialects() {
    let mut checked = 0;
    for case in cases() {
        for dialect in [Dialect::Anthropic, Dialect::OpenAi] {
            let env = env(DebugMode::Off).await;
            let what = format!("{} ({dialect:?})", case.name);
            env.team.cache.mark_fresh();
            match case.before {
                Before::Nothing => {}
                Before::Stale => env.team.cache.mark_stale(),
                Before::SendOnce => {
                    let (status, _, _) = send(&env.app, request(&env, dialect, case.present)).await;
                    assert_eq!(status, 200, "{what}: the first request");
                }
            }
            let (status, headers, body) =
                send(&env.app, request(&env, dialect, case.present)).await;
            assert_eq!(status.as_u16(), case.status, "{what}: {body}");
            let error_type = body["error"]["type"].as_str();
            match (case.error, dialect) {
                (None, _) => assert!(body.get("error").is_none(), "{what}: {body}"),
                (Some((a, _)), Dialect::Anthropic) => {
                    assert_eq!(body["type"], "error", "{what}: {body}");
                    assert_eq!(error_type, Some(a), "{what}: {body}");
                }
                (Some((_, o)), Dialect::OpenAi) => assert_eq!(error_type, Some(o), "{what}"),
            }
            let should_retry = headers.get("x-should-retry").map(|v| v.to_str().unwrap());
            let expected = case.should_retry_false.then_some("false");
            assert_eq!(should_retry, expected, "{what}");
            let retry_after = headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            assert_eq!(retry_after.is_some(), case.retry_after, "{what}");
            if let Some(secs) = retry_after {
                assert!((1..=60).contains(&secs), "{what}: retry-after {secs}");
            }
            // A refusal leaves the body unread: HTTP/1 clients are told the connection closes.
            let close = headers.get("connection").map(|v| v.to_str().unwrap());
            assert_eq!(close, (case.status != 200).then_some("close"), "{what}");
            if case.status != 200 {
                assert_eq!(env.upstream.call_count(), usize::from(case.status == 429));
                // A refusal never names the secret.
                let secret = &env.secrets["valid"].0;
                assert!(!body.to_string().contains(secret.as_str()), "{what}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * cases().len());
}

/// A handler behind the guard that answers what it was given.
async fn probe(headers: HeaderMap, principal: Extension<Principal>) -> Json<Value> {
    let names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    Json(json!({ "headers": names, "credential": principal.credential_id }))
}

#[tokio::test]
async fn gateway_credentials_never_go_further() {
    let env = env(DebugMode::Off).await;
    let (secret, id) = env.secrets["valid"].clone();
    let probed = Router::new()
        .route("/v1/messages", post(probe))
        .route_layer(axum::middleware::from_fn_with_state(
            env.team.clone(),
            conduit::team::guard::require_credential,
        ));
    let request = || {
        Request::post("/v1/messages")
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "tools-2024")
            .header("x-api-key", &secret)
            .header("authorization", format!("Bearer {secret}"))
            .header("anthropic-api-key", &secret)
            .body(Body::from(
                json!({"model": "claude-x", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
            ))
            .unwrap()
    };
    let (status, _, body) = send(&probed, request()).await;
    assert_eq!(status, 200, "{body}");
    let seen: Vec<&str> = body["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for gone in ["x-api-key", "authorization", "anthropic-api-key"] {
        assert!(
            !seen.contains(&gone),
            "{gone} reached the handler: {seen:?}"
        );
    }
    assert!(seen.contains(&"anthropic-beta"), "{seen:?}");
    assert_eq!(body["credential"], id.as_str());

    // Through the real router to an upstream with the Messages lane.
    let mut routed = request();
    *routed.uri_mut() = "/v1/messages".parse().unwrap();
    routed
        .headers_mut()
        .insert("host", format!("127.0.0.1:{PORT}").parse().unwrap());
    let (status, _, body) = send(&env.app, routed).await;
    assert_eq!(status, 200, "{body}");
    let calls = env.upstream.messages_calls();
    assert_eq!(calls.len(), 1);
    for (name, value) in &calls[0].headers {
        assert!(
            !["x-api-key", "authorization", "anthropic-api-key"].contains(&name.as_str()),
            "{name} reached the upstream"
        );
        assert!(!value.contains(&secret), "{name} carries the key");
    }
    assert!(!serde_json::to_string(&calls[0].body)
        .unwrap()
        .contains(&secret));
}

/// A writer the test reads back: every log line written while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary: one global subscriber (a scoped one misses lines when
/// other tests' threads settle tracing's callsite cache first).
fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

#[tokio::test]
async fn access_log_names_key_id_and_user_never_the_key() {
    let captured = captured_log();
    let env = env(DebugMode::All).await;
    env.team.cache.mark_fresh();
    for (dialect, name) in [(Dialect::Anthropic, "valid"), (Dialect::OpenAi, "session")] {
        let (status, _, body) = send(&env.app, request(&env, dialect, Present::Usual(name))).await;
        assert_eq!(status, 200, "{body}");
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let (secret, id) = &env.secrets[name];
        let line = log
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no line names {id}: {log}"));
        assert!(line.contains(" request "), "{line}");
        assert!(line.contains(&format!("key_id=\"{id}\"")), "{line}");
        assert!(line.contains("user=\"alice\""), "{line}");
        assert!(
            !log.contains(secret.as_str()),
            "the key is in the log: {log}"
        );
        assert!(
            !log.contains(&secret[16..]),
            "part of the key is in the log"
        );
    }
}

/// The same database seen by a second instance: its own store handle, cache and sync task.
struct Instance {
    team: TeamState,
    syncing: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn instance(store: Store) -> Instance {
    let team = team_support::team_state(&store, &Setup::default()).await;
    let syncing = tokio_util::sync::CancellationToken::new();
    let task = conduit::team::sync::spawn(store, team.cache.clone(), syncing.clone());
    Instance {
        team,
        syncing,
        task,
    }
}

/// Wait (at most 10 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

/// Another instance's writes reach this one's cache through the sync task (NOTIFY on
/// Postgres, the poll on both); recorded uses are written when the task stops.
async fn sync_story(writer: Store, reader: Store) {
    let alice = user(&writer, "alice", Role::Member, None).await;
    let (secret, id) = credential(&writer, CredentialKind::Key, &alice, None, None).await;
    let other = instance(reader.clone()).await;
    assert!(other.team.cache.authenticate(&secret).is_ok());

    writer
        .revoke_credential(&id, "key.revoke", &actor())
        .await
        .unwrap();
    eventually("the revocation reaches the other instance", || {
        other.team.cache.authenticate(&secret).is_err()
    })
    .await;

    let (fresh, fresh_id) = credential(&writer, CredentialKind::Key, &alice, None, None).await;
    eventually("a new key reaches the other instance", || {
        other.team.cache.authenticate(&fresh).is_ok()
    })
    .await;
    writer
        .set_user_active(&alice, false, &actor())
        .await
        .unwrap();
    eventually("a deactivation reaches the other instance", || {
        other.team.cache.authenticate(&fresh).is_err()
    })
    .await;
    writer
        .set_user_active(&alice, true, &actor())
        .await
        .unwrap();
    eventually("a reactivation reaches the other instance", || {
        other.team.cache.authenticate(&fresh).is_ok()
    })
    .await;

    // The uses recorded above are written by the time the task has stopped.
    other.syncing.cancel();
    conduit::team::sync::join(other.task).await;
    let used = writer.credential(&fresh_id).await.unwrap().unwrap();
    assert!(used.last_used_at.is_some_and(|t| t > now() - 600));
}

#[tokio::test]
async fn sync_task_on_sqlite() {
    let (dir, writer) = team_support::temp_store().await;
    let reader = Store::open_sqlite(&dir.path().join("team.db"))
        .await
        .unwrap();
    sync_story(writer, reader).await;
}

#[tokio::test]
async fn sync_task_on_postgres() {
    let db = conduit_store::testing::TempDb::create().await.unwrap();
    let writer = db.store().await.unwrap();
    let reader = Store::open(db.url()).await.unwrap();
    sync_story(writer.clone(), reader.clone()).await;
    writer.close().await;
    reader.close().await;
    db.close().await.unwrap();
}

/// When the store goes away the cache goes stale and every request is refused with 503.
#[tokio::test]
async fn a_store_gone_fails_closed() {
    let (_dir, store) = team_support::temp_store().await;
    let alice = user(&store, "alice", Role::Member, None).await;
    let (secret, _) = credential(&store, CredentialKind::Key, &alice, None, None).await;
    let gone = instance(store.clone()).await;
    assert!(gone.team.cache.authenticate(&secret).is_ok());
    store.close().await;
    eventually("the cache goes stale", || {
        gone.team
            .cache
            .authenticate(&secret)
            .is_err_and(|e| e.kind == conduit_core::ErrorKind::Unavailable)
    })
    .await;
    gone.syncing.cancel();
    conduit::team::sync::join(gone.task).await;
}

/// Two instances on one Postgres database share a key's requests per minute.
#[tokio::test]
async fn rpm_is_counted_across_instances_on_postgres() {
    let db = conduit_store::testing::TempDb::create().await.unwrap();
    let a = db.store().await.unwrap();
    let b = Store::open(db.url()).await.unwrap();
    let alice = user(&a, "alice", Role::Member, None).await;
    let (secret, _) = credential(&a, CredentialKind::Key, &alice, Some(2), None).await;
    let (la, lb) = (
        conduit::team::limit::Limiter::for_store(&a),
        conduit::team::limit::Limiter::for_store(&b),
    );
    let team = team_support::team_state(&a, &Setup::default()).await;
    let principal = team.cache.authenticate(&secret).unwrap();
    // Early in a minute window, so that the three calls fall into one.
    let t = now() / 60 * 60 + 1;
    la.admit_at(&principal, t).await.unwrap();
    lb.admit_at(&principal, t).await.unwrap();
    let refused = la.admit_at(&principal, t).await.unwrap_err();
    assert_eq!(refused.kind, conduit_core::ErrorKind::RateLimited);
    assert_eq!(refused.retry_after, Some(59));
    // A store that fails refuses a limited key with 503, and lets an unlimited one through.
    b.close().await;
    let unavailable = lb.admit_at(&principal, t + 60).await.unwrap_err();
    assert_eq!(unavailable.kind, conduit_core::ErrorKind::Unavailable);
    let unlimited = Principal {
        rate_limit_rpm: None,
        ..principal
    };
    lb.admit_at(&unlimited, t).await.unwrap();
    a.close().await;
    db.close().await.unwrap();
}

#[tokio::test]
async fn healthz_and_readyz() {
    let env = env(DebugMode::Off).await;
    let get = |path: &str| {
        Request::get(path)
            .header("host", format!("127.0.0.1:{PORT}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, body) = send(&env.app, get("/healthz")).await;
    assert_eq!((status.as_u16(), body), (200, json!({"status": "ok"})));
    let (status, _, body) = send(&env.app, get("/readyz")).await;
    assert_eq!((status.as_u16(), body), (200, json!({"ready": true})));
    // Personal mode's key-file routes are not part of team mode.
    for path in ["/health", "/v1/usage", "/login"] {
        let (status, _, _) = send(&env.app, get(path)).await;
        assert_eq!(status, 404, "{path}");
    }
    env.team.store.close().await;
    let (status, _, body) = send(&env.app, get("/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let reasons = body["reasons"].as_array().unwrap();
    assert!(
        reasons[0]
            .as_str()
            .unwrap()
            .starts_with("store: the team store is unreachable"),
        "{body}"
    );
    let (status, _, _) = send(&env.app, get("/healthz")).await;
    assert_eq!(status, 200);
}
