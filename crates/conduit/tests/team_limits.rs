//! Rate limits across instances: three `Limiter`s (three gateway instances) on one real
//! Postgres database, and again on one Redis (127.0.0.1:6379, or `REDIS_URL`; a key prefix of
//! its own per test), driven concurrently. Time is a manual clock shared by the three, so a
//! "minute" is exact and nothing waits on the wall clock. Then what happens when the counter
//! goes away (fail closed / fail open), and the admin API through the real router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conduit::team::limit::{Admission, Limiter, Options};
use conduit::team::{Principal, PrincipalKind};
use conduit_core::{Error, ErrorKind};
use conduit_store::testing::{TempDb, TempDir};
use conduit_store::{CredentialKind, RateScope, Role, Store};
use conduit_upstream::clock::ManualClock;
use serde_json::{json, Value};
use team_support::{credential, now, system, user, Setup};
use time::OffsetDateTime;

/// What counts: the three instances' shared counter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Postgres,
    Redis,
}

/// Where the rules live (and, on Postgres, the counts), and what keeps it alive.
enum Holder {
    Postgres(TempDb),
    /// Redis counts; the rules are in a SQLite store.
    Redis(TempDir, String),
}

/// Three instances over one counter, a caller (key, user, team) and the manual clock.
struct Env {
    holder: Holder,
    /// One store handle per instance (one handle shared by the three with Redis).
    stores: Vec<Store>,
    limiters: Vec<Arc<Limiter>>,
    clock: Arc<ManualClock>,
    caller: Principal,
    user_id: String,
    team_id: String,
    key_id: String,
}

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh key prefix for one test run.
fn prefix() -> String {
    format!("conduit-test:{}:", uuid::Uuid::new_v4().simple())
}

/// The options of one instance: on the shared clock, counting in Redis at `redis`.
fn options(clock: &Arc<ManualClock>, redis: Option<(&str, &str)>, fail_open: bool) -> Options {
    Options {
        redis_url: redis.map(|(url, _)| url.to_owned()),
        redis_prefix: redis.map_or_else(String::new, |(_, p)| p.to_owned()),
        fail_open,
        clock: clock.clone(),
        ..Options::default()
    }
}

async fn env(backend: Backend) -> Env {
    // One second into a minute window.
    let start = OffsetDateTime::from_unix_timestamp(now() / 60 * 60 + 1).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let (holder, stores) = match backend {
        Backend::Postgres => {
            let db = TempDb::create().await.unwrap();
            let first = db.store().await.unwrap();
            let mut stores = vec![first];
            for _ in 1..3 {
                stores.push(Store::open(db.url()).await.unwrap());
            }
            (Holder::Postgres(db), stores)
        }
        Backend::Redis => {
            let (dir, store) = team_support::temp_store().await;
            (
                Holder::Redis(dir, prefix()),
                vec![store.clone(), store.clone(), store],
            )
        }
    };
    let store = &stores[0];
    let user_id = user(store, "alice", Role::Member, None).await;
    let team_id = store.create_team("crew", &system()).await.unwrap().id;
    let (_, key_id) = credential(store, CredentialKind::Key, &user_id, None, None).await;
    let mut limiters = Vec::new();
    for store in &stores {
        let redis = match &holder {
            Holder::Redis(_, prefix) => Some(prefix.as_str()),
            Holder::Postgres(_) => None,
        };
        let url = redis_url();
        let options = options(&clock, redis.map(|p| (url.as_str(), p)), false);
        limiters.push(Arc::new(
            Limiter::with_options(store, options).await.unwrap(),
        ));
    }
    let caller = Principal {
        credential_id: key_id.clone(),
        kind: PrincipalKind::Key,
        user_id: Some(user_id.clone()),
        subject: Some("alice".into()),
        team_id: Some(team_id.clone()),
        role: Role::Member,
        rate_limit_rpm: None,
    };
    Env {
        holder,
        stores,
        limiters,
        clock,
        caller,
        user_id,
        team_id,
        key_id,
    }
}

impl Env {
    /// Set one scope's limits (audited) and put them in force on all three instances.
    async fn limit(&self, scope: RateScope, rpm: Option<i64>, tpm: Option<i64>, max: Option<i64>) {
        let id = match scope {
            RateScope::Key => &self.key_id,
            RateScope::User => &self.user_id,
            RateScope::Team => &self.team_id,
        };
        self.stores[0]
            .set_rate_limit(scope, id, rpm, tpm, max, &system())
            .await
            .unwrap();
        for limiter in &self.limiters {
            limiter.reload_rules().await.unwrap();
        }
    }

    /// `per_instance` admissions of the caller on each of the three at once; the admitted
    /// ones (kept) and the refusals.
    async fn burst(&self, per_instance: usize) -> (Vec<Admission>, Vec<Error>) {
        let mut tasks = Vec::new();
        for _ in 0..per_instance {
            for limiter in &self.limiters {
                let (limiter, caller) = (limiter.clone(), self.caller.clone());
                tasks.push(tokio::spawn(async move { limiter.admit(&caller).await }));
            }
        }
        let (mut admitted, mut refused) = (Vec::new(), Vec::new());
        for task in tasks {
            match task.await.unwrap() {
                Ok(a) => admitted.push(a),
                Err(e) => refused.push(e),
            }
        }
        (admitted, refused)
    }

    async fn close(self) {
        for limiter in &self.limiters {
            limiter.shutdown().await;
        }
        for store in &self.stores {
            store.close().await;
        }
        match self.holder {
            Holder::Postgres(db) => db.close().await.unwrap(),
            Holder::Redis(_dir, prefix) => clean_redis(&prefix).await,
        }
    }
}

/// Delete a test run's Redis keys.
async fn clean_redis(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

fn assert_limited(refused: &[Error], says: &str) {
    for e in refused {
        assert_eq!(e.kind, ErrorKind::RateLimited, "{e:?}");
        assert!(e.message.contains(says), "{e:?}");
    }
}

/// An RPM limit of N admits exactly N of a concurrent burst on three instances in a window;
/// the next window still sees the last one (sliding estimate); two windows on, N again.
async fn rpm_story(backend: Backend) {
    let env = env(backend).await;
    env.limit(RateScope::User, Some(7), None, None).await;
    let (admitted, refused) = env.burst(10).await;
    assert_eq!(admitted.len(), 7, "{backend:?}: {refused:?}");
    assert_eq!(refused.len(), 23);
    assert_limited(&refused, "this user's rate limit of 7 requests per minute");
    assert!(refused.iter().all(|e| e.retry_after == Some(59)));
    // One window on, one second in: 7 * 59/60 + 1 > 7, nothing more.
    env.clock.advance(Duration::from_secs(60));
    let (admitted, _) = env.burst(3).await;
    assert_eq!(admitted.len(), 0, "{backend:?}");
    // Two windows on: a fresh minute, N again, across the three.
    env.clock.advance(Duration::from_secs(60));
    let (admitted, refused) = env.burst(4).await;
    assert_eq!((admitted.len(), refused.len()), (7, 5), "{backend:?}");
    // The key's own rate_limit_rpm counts too, and the tighter limit wins.
    env.clock.advance(Duration::from_secs(120));
    let own = Principal {
        rate_limit_rpm: Some(2),
        ..env.caller.clone()
    };
    let mut results = Vec::new();
    for limiter in &env.limiters {
        results.push(limiter.admit(&own).await);
    }
    let errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "{backend:?}");
    assert_limited(&errors, "this key's rate limit of 2 requests per minute");
    env.close().await;
}

/// N concurrent streams across the three: N leases, the N+1th refused (retry in 1 s), a
/// finished one frees one, a dropped one too, and a crashed instance's leases run out.
async fn streams_story(backend: Backend) {
    let env = env(backend).await;
    env.limit(RateScope::Team, None, None, Some(4)).await;
    let (mut admitted, refused) = env.burst(3).await;
    assert_eq!(admitted.len(), 4, "{backend:?}: {refused:?}");
    assert_limited(&refused, "this team's limit of 4 concurrent streams");
    assert!(refused.iter().all(|e| e.retry_after == Some(1)));
    // A finished stream frees its lease, on every instance.
    admitted.pop().unwrap().finish().await;
    admitted.push(env.limiters[2].admit(&env.caller).await.unwrap());
    assert!(env.limiters[0].admit(&env.caller).await.is_err());
    // A dropped one is given back off the caller's task.
    drop(admitted.pop());
    admitted.push(
        eventually("a dropped admission frees its lease", || {
            env.limiters[1].admit(&env.caller)
        })
        .await,
    );
    // An instance that dies holding its leases: they run out after the lease lifetime, and
    // the next admission prunes them.
    std::mem::forget(admitted);
    assert!(env.limiters[1].admit(&env.caller).await.is_err());
    env.clock
        .advance(conduit::team::limit::DEFAULT_LEASE_TTL + Duration::from_secs(1));
    let (admitted, _) = env.burst(2).await;
    assert_eq!(admitted.len(), 4, "{backend:?}");
    for a in admitted {
        a.finish().await;
    }
    env.close().await;
}

/// TPM: the tokens of finished requests, counted on any instance, refuse the next request
/// once the window's estimate reaches the limit; requests in flight do not count yet.
async fn tpm_story(backend: Backend) {
    let env = env(backend).await;
    env.limit(RateScope::Key, None, Some(1000), None).await;
    let mut a = env.limiters[0].admit(&env.caller).await.unwrap();
    let mut b = env.limiters[1].admit(&env.caller).await.unwrap();
    a.record_tokens(400);
    a.record_tokens(300);
    a.finish().await;
    b.record_tokens(300);
    // 700 tokens counted, b's 300 still in flight: admitted.
    let c = env.limiters[2].admit(&env.caller).await.unwrap();
    b.finish().await;
    drop(c); // no tokens: nothing to give back
    let e = env.limiters[2].admit(&env.caller).await.unwrap_err();
    assert_limited(
        std::slice::from_ref(&e),
        "this key's rate limit of 1000 tokens per minute",
    );
    assert_eq!(e.retry_after, Some(59));
    assert!(env.limiters[0].admit(&env.caller).await.is_err());
    // Half-way through the next window the estimate is 500.
    env.clock.advance(Duration::from_secs(89));
    env.limiters[1].admit(&env.caller).await.unwrap();
    env.close().await;
}

/// Try `admit` until it admits (a bounded number of tries, no timed assertion).
async fn eventually<F, Fut>(what: &str, mut admit: F) -> Admission
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Admission, Error>>,
{
    for _ in 0..500 {
        if let Ok(admission) = admit().await {
            return admission;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: never happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rpm_across_three_instances_on_postgres() {
    rpm_story(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rpm_across_three_instances_on_redis() {
    rpm_story(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_across_three_instances_on_postgres() {
    streams_story(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_across_three_instances_on_redis() {
    streams_story(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpm_across_instances_on_postgres() {
    tpm_story(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpm_across_instances_on_redis() {
    tpm_story(Backend::Redis).await;
}

fn assert_unavailable(result: Result<Admission, Error>, backend: &str) {
    let e = result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{backend}: {e:?}");
    assert!(
        e.message.contains("rate limits are unavailable"),
        "{backend}: {e:?}"
    );
}

/// Postgres goes away: a closed pool, then a dropped database. Fail closed refuses the
/// limited caller with 503 and a clear message; fail open admits it; an unlimited caller
/// never touches the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_gone_fails_closed_or_open_as_configured() {
    let env = env(Backend::Postgres).await;
    env.limit(RateScope::User, Some(100), None, Some(10)).await;
    let open = Limiter::with_options(&env.stores[2], options(&env.clock, None, true))
        .await
        .unwrap();
    env.limiters[1]
        .admit(&env.caller)
        .await
        .unwrap()
        .finish()
        .await;
    let unlimited = Principal {
        user_id: None,
        team_id: None,
        ..env.caller.clone()
    };
    // A closed pool.
    env.stores[1].close().await;
    env.stores[2].close().await;
    assert_unavailable(env.limiters[1].admit(&env.caller).await, "closed pool");
    let admitted = open.admit(&env.caller).await.unwrap();
    assert_eq!(admitted.leases(), 0, "admitted uncounted");
    env.limiters[1].admit(&unlimited).await.unwrap();
    // A dropped database: the first instance's connections end.
    let Holder::Postgres(db) = env.holder else {
        unreachable!()
    };
    db.close().await.unwrap();
    assert_unavailable(env.limiters[0].admit(&env.caller).await, "dropped database");
    env.limiters[0].admit(&unlimited).await.unwrap();
    for limiter in &env.limiters {
        limiter.shutdown().await;
    }
    open.shutdown().await;
}

/// Redis unreachable (a port where nothing listens): closed refuses, open admits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_gone_fails_closed_or_open_as_configured() {
    let (_dir, store) = team_support::temp_store().await;
    let user_id = user(&store, "alice", Role::Member, None).await;
    store
        .set_rate_limit(RateScope::User, &user_id, Some(5), None, None, &system())
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::default());
    let gone = ("redis://127.0.0.1:1", "conduit-test-gone:");
    let closed = Limiter::with_options(&store, options(&clock, Some(gone), false))
        .await
        .unwrap();
    let open = Limiter::with_options(&store, options(&clock, Some(gone), true))
        .await
        .unwrap();
    let caller = Principal {
        credential_id: "k".into(),
        kind: PrincipalKind::Key,
        user_id: Some(user_id),
        subject: None,
        team_id: None,
        role: Role::Member,
        rate_limit_rpm: None,
    };
    for _ in 0..3 {
        assert_unavailable(closed.admit(&caller).await, "redis closed");
        open.admit(&caller).await.unwrap();
    }
    let unlimited = Principal {
        user_id: None,
        ..caller
    };
    closed.admit(&unlimited).await.unwrap();
    closed.shutdown().await;
    open.shutdown().await;
}

/// The admin API sets, lists and deletes limits (audited; validated; 404 for an unknown
/// user), and the guard refuses at once on this instance, in the caller's dialect.
#[tokio::test]
async fn admin_api_and_the_guard() {
    const PORT: u16 = 8767;
    let (dir, store) = team_support::temp_store().await;
    let admin = team_support::session(&store, "root", Role::Admin).await;
    let alice = user(&store, "alice", Role::Member, None).await;
    let (key, _) = credential(&store, CredentialKind::Key, &alice, None, None).await;
    let setup = Setup {
        port: PORT,
        messages_lane: Some(7),
        ..Setup::default()
    };
    let gw = team_support::gateway(dir, store, setup).await;
    let call = |method: &str, path: &str, body: Option<Value>| {
        let r = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{PORT}"))
            .header("x-api-key", &admin)
            .header("content-type", "application/json");
        r.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap()
    };
    let cases = [
        (
            "PUT",
            format!("/admin/limits/user/{alice}"),
            Some(json!({"rpm": 0})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "PUT",
            format!("/admin/limits/group/{alice}"),
            Some(json!({"rpm": 1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "PUT",
            "/admin/limits/user/nobody".to_owned(),
            Some(json!({"rpm": 1})),
            StatusCode::NOT_FOUND,
        ),
        (
            "DELETE",
            format!("/admin/limits/user/{alice}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "PUT",
            format!("/admin/limits/user/{alice}"),
            Some(json!({"rpm": 2, "max_streams": null})),
            StatusCode::OK,
        ),
    ];
    for (method, path, body, status) in cases {
        let answer = team_support::send(&gw.app, call(method, &path, body)).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
    }
    let listed = team_support::send(&gw.app, call("GET", "/admin/limits", None)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let limits = &listed.json["limits"];
    assert_eq!(limits.as_array().unwrap().len(), 1, "{limits}");
    assert_eq!(limits[0]["scope_type"], "user");
    assert_eq!(limits[0]["rpm"], 2);
    assert_eq!(limits[0]["tpm"], Value::Null);
    let audit = gw.store.list_audit(10, None).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "limit.set"));

    let message = || {
        Request::post("/v1/messages")
            .header("host", format!("127.0.0.1:{PORT}"))
            .header("content-type", "application/json")
            .header("anthropic-version", "2023-06-01")
            .header("x-api-key", &key)
            .body(Body::from(
                json!({"model": "claude-x", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
            ))
            .unwrap()
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(team_support::send(&gw.app, message()).await);
    }
    assert_eq!(statuses[0].status, StatusCode::OK, "{}", statuses[0].text);
    let refused = &statuses[2];
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.json["error"]["type"], "rate_limit_error");
    let says = refused.json["error"]["message"].as_str().unwrap();
    assert!(
        says.contains("this user's rate limit of 2 requests per minute"),
        "{says}"
    );
    assert!(refused.headers.contains_key("retry-after"));

    let deleted = team_support::send(
        &gw.app,
        call("DELETE", &format!("/admin/limits/user/{alice}"), None),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let again = team_support::send(&gw.app, message()).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the limit is gone at once: {}",
        again.text
    );
    gw.team.limiter.shutdown().await;
}
