//! The spend admin surfaces over a real SQLite store, through `Router::oneshot`: the
//! spend-limits API's wire shapes (Anthropic's Admin API: one table of valid and invalid
//! requests, every answer with a `request-id` and every error with the same `request_id`), the
//! object's life (create, replace, list in pages, get, delete, audit), the effective per-member
//! report, `/admin/spend` (JSON and CSV) and `/admin/prices`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use conduit::state::TeamState;
use conduit_spend::jiff::tz::TimeZone;
use conduit_spend::Period;
use conduit_store::{Role, SpendRow, Store, TotalDelta};
use conduit_upstream::clock::ManualClock;
use serde_json::{json, Value};
use team_support::{Answer, Setup, TempDir};

/// Which credential a request carries.
#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    Admin,
    Auditor,
    Member,
}

struct App {
    router: Router,
    store: Store,
    team: TeamState,
    _dir: TempDir,
    admin: String,
    auditor: String,
    member: String,
}

impl App {
    async fn new() -> App {
        let (dir, store) = team_support::temp_store().await;
        let admin = team_support::session(&store, "admin", Role::Admin).await;
        let auditor = team_support::session(&store, "auditor", Role::Auditor).await;
        let member = team_support::session(&store, "member", Role::Member).await;
        let team = team_support::team_state(&store, &Setup::default()).await;
        let router =
            team_support::api_router(team.clone(), std::sync::Arc::new(ManualClock::default()));
        App {
            router,
            store,
            team,
            _dir: dir,
            admin,
            auditor,
            member,
        }
    }

    async fn call(&self, method: &str, path: &str, cred: Cred, body: &str) -> Answer {
        self.call_with(method, path, cred, body, &[]).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        cred: Cred,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.team.cache.sync_now(&self.store).await.unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        let secret = match cred {
            Cred::None => None,
            Cred::Admin => Some(&self.admin),
            Cred::Auditor => Some(&self.auditor),
            Cred::Member => Some(&self.member),
        };
        if let Some(s) = secret {
            req = req.header("x-api-key", s.as_str());
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Body::from(body.to_owned())).unwrap();
        team_support::send(&self.router, req).await
    }

    async fn upsert(&self, body: Value) -> Value {
        let r = self
            .call(
                "POST",
                "/v1/organizations/spend_limits",
                Cred::Admin,
                &body.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
        r.json
    }

    async fn user_id(&self, subject: &str) -> String {
        self.store
            .user_by_subject(subject)
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

/// Every spend-limits answer has a `request-id`; an error carries the same id in its body.
fn assert_request_id(r: &Answer, what: &str) {
    let id = r.headers["request-id"].to_str().unwrap();
    assert!(id.starts_with("req_"), "{what}: {id}");
    if !r.status.is_success() {
        assert_eq!(r.json["request_id"], id, "{what}: {}", r.text);
    }
}

fn assert_error(r: &Answer, status: u16, etype: &str, fragment: &str, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    assert_eq!(r.json["type"], "error", "{what}: {}", r.text);
    assert_eq!(r.json["error"]["type"], etype, "{what}: {}", r.text);
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "{what}: message {message:?} lacks {fragment:?}"
    );
}

const LIMITS: &str = "/v1/organizations/spend_limits";

struct WireCase {
    method: &'static str,
    path: &'static str,
    cred: Cred,
    body: &'static str,
    /// 200, or the error's status, type and message fragment.
    status: u16,
    error: Option<(&'static str, &'static str)>,
}

const fn ok(method: &'static str, path: &'static str, cred: Cred, body: &'static str) -> WireCase {
    WireCase {
        method,
        path,
        cred,
        body,
        status: 200,
        error: None,
    }
}

const fn bad(
    method: &'static str,
    path: &'static str,
    cred: Cred,
    body: &'static str,
    status: u16,
    etype: &'static str,
    fragment: &'static str,
) -> WireCase {
    WireCase {
        method,
        path,
        cred,
        body,
        status,
        error: Some((etype, fragment)),
    }
}

const INVALID: &str = "invalid_request_error";

static WIRE: &[WireCase] = &[
    ok(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"user","user_id":"member"},"period":"daily","amount":"50000"}"#,
    ),
    ok(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"rbac_group","rbac_group_id":"contractors"},"period":"weekly","amount":null}"#,
    ),
    ok(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"monthly","amount":"0","currency":"USD"}"#,
    ),
    ok(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"gateway"},"period":"total","amount":"100000000"}"#,
    ),
    ok("GET", LIMITS, Cred::Auditor, ""),
    ok(
        "GET",
        "/v1/organizations/spend_limits?limit=1&scope_type=user",
        Cred::Admin,
        "",
    ),
    ok(
        "GET",
        "/v1/organizations/spend_limits/effective",
        Cred::Auditor,
        "",
    ),
    ok(
        "GET",
        "/v1/organizations/spend_limits/audit",
        Cred::Auditor,
        "",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"seat_tier","seat_tier":"premium"},"period":"daily","amount":"1"}"#,
        400,
        INVALID,
        "unknown scope type \"seat_tier\"",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"user"},"period":"daily","amount":"1"}"#,
        400,
        INVALID,
        "scope.user_id",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":"organization","period":"daily","amount":"1"}"#,
        400,
        INVALID,
        "scope: must be an object",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"hourly","amount":"1"}"#,
        400,
        INVALID,
        "unknown period \"hourly\"",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"amount":"1"}"#,
        400,
        INVALID,
        "period: required",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":50000}"#,
        400,
        INVALID,
        "decimal string",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"500.00"}"#,
        400,
        INVALID,
        "whole number of cents",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"-5"}"#,
        400,
        INVALID,
        "whole number of cents",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"daily"}"#,
        400,
        INVALID,
        "amount: required",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"1","currency":"EUR"}"#,
        400,
        INVALID,
        "only \"USD\"",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        "not json",
        400,
        INVALID,
        "JSON object",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"team","team_id":"no-such-team"},"period":"daily","amount":"1"}"#,
        404,
        "not_found_error",
        "team not found",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Admin,
        r#"{"scope":{"type":"key","key_id":"no-such-key"},"period":"daily","amount":"1"}"#,
        404,
        "not_found_error",
        "key not found",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Member,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"1"}"#,
        403,
        "permission_error",
        "admin role required",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::Auditor,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"1"}"#,
        403,
        "permission_error",
        "auditors can read",
    ),
    bad(
        "POST",
        LIMITS,
        Cred::None,
        r#"{"scope":{"type":"organization"},"period":"daily","amount":"1"}"#,
        401,
        "authentication_error",
        "missing credentials",
    ),
    bad(
        "GET",
        LIMITS,
        Cred::Member,
        "",
        403,
        "permission_error",
        "admin or auditor",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits?limit=0",
        Cred::Admin,
        "",
        400,
        INVALID,
        "limit",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits?scope_type=workspace",
        Cred::Admin,
        "",
        400,
        INVALID,
        "unknown scope type \"workspace\"",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits?after_id=a&before_id=b",
        Cred::Admin,
        "",
        400,
        INVALID,
        "at most one",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits/spl_nope",
        Cred::Admin,
        "",
        404,
        "not_found_error",
        "spend limit not found",
    ),
    bad(
        "DELETE",
        "/v1/organizations/spend_limits/spl_nope",
        Cred::Admin,
        "",
        404,
        "not_found_error",
        "spend limit not found",
    ),
    bad(
        "DELETE",
        "/v1/organizations/spend_limits/spl_nope",
        Cred::Auditor,
        "",
        403,
        "permission_error",
        "auditors",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits/effective?period[]=hourly",
        Cred::Admin,
        "",
        400,
        INVALID,
        "unknown period",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits/effective?page=%21%21",
        Cred::Admin,
        "",
        400,
        INVALID,
        "page",
    ),
    bad(
        "GET",
        "/v1/organizations/spend_limits/audit?after_id=nope",
        Cred::Admin,
        "",
        404,
        "not_found_error",
        "audit entry not found",
    ),
];

#[tokio::test]
async fn spend_limit_wire_table() {
    let app = App::new().await;
    for (i, case) in WIRE.iter().enumerate() {
        let what = format!(
            "case {i}: {} {} {:?} {}",
            case.method, case.path, case.cred, case.body
        );
        let r = app.call(case.method, case.path, case.cred, case.body).await;
        assert_request_id(&r, &what);
        match case.error {
            None => assert_eq!(r.status.as_u16(), case.status, "{what}: {}", r.text),
            Some((etype, fragment)) => assert_error(&r, case.status, etype, fragment, &what),
        }
    }
    // The valid writes above, and nothing from the refused ones.
    let listed = app.call("GET", LIMITS, Cred::Admin, "").await;
    assert_eq!(
        listed.json["data"].as_array().unwrap().len(),
        4,
        "{}",
        listed.text
    );
}

#[tokio::test]
async fn spend_limit_lifecycle() {
    let app = App::new().await;
    assert!(app.team.spend.limits().is_empty());
    let created = app
        .upsert(
            json!({"scope": {"type": "user", "user_id": "member"}, "period": "daily",
                       "amount": "50000"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("spl_"), "{id}");
    let stamp = created["created_at"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
    assert_eq!(
        created,
        json!({
            "type": "spend_limit",
            "id": id,
            "scope": {"type": "user", "user_id": "member"},
            "period": "daily",
            "amount": "50000",
            "currency": "USD",
            "is_enabled": true,
            "created_at": stamp,
            "updated_at": created["updated_at"],
        })
    );
    assert!(
        !app.team.spend.limits().is_empty(),
        "the write is in force on this instance at once"
    );
    // Keyed on (scope, period): replaced in place; null is an explicit no cap.
    let replaced = app
        .upsert(
            json!({"scope": {"type": "user", "user_id": "member"}, "period": "daily",
                       "amount": null}),
        )
        .await;
    assert_eq!(replaced["id"], id);
    assert!(replaced["amount"].is_null());
    assert_eq!(replaced["created_at"], created["created_at"]);
    // conduit's pools: a team and a key.
    let team = app
        .store
        .create_team("platform", &team_support::system())
        .await
        .unwrap();
    let member_id = app.user_id("member").await;
    let (_, key_id) = team_support::credential(
        &app.store,
        conduit_store::CredentialKind::Key,
        &member_id,
        None,
        None,
    )
    .await;
    let pool = app
        .upsert(
            json!({"scope": {"type": "team", "team_id": team.id}, "period": "monthly",
                       "amount": "0"}),
        )
        .await;
    assert_eq!(pool["scope"], json!({"type": "team", "team_id": team.id}));
    assert_eq!(pool["amount"], "0");
    let key = app
        .upsert(
            json!({"scope": {"type": "key", "key_id": key_id}, "period": "total",
                       "amount": "100"}),
        )
        .await;
    assert_eq!(key["scope"], json!({"type": "key", "key_id": key_id}));

    // The list: newest first, in pages.
    let r = app
        .call(
            "GET",
            "/v1/organizations/spend_limits?limit=2",
            Cred::Auditor,
            "",
        )
        .await;
    assert_request_id(&r, "list");
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&r.json),
        [key["id"].as_str().unwrap(), pool["id"].as_str().unwrap()]
    );
    assert_eq!(r.json["has_more"], true);
    assert_eq!(r.json["first_id"], key["id"]);
    assert_eq!(r.json["last_id"], pool["id"]);
    let next = format!(
        "/v1/organizations/spend_limits?limit=2&after_id={}",
        pool["id"].as_str().unwrap()
    );
    let r = app.call("GET", &next, Cred::Auditor, "").await;
    assert_eq!(ids(&r.json), [id.as_str()]);
    assert_eq!(r.json["has_more"], false);
    let back = format!("/v1/organizations/spend_limits?limit=1&before_id={id}");
    let r = app.call("GET", &back, Cred::Auditor, "").await;
    assert_eq!(ids(&r.json), [pool["id"].as_str().unwrap()]);
    assert_eq!(r.json["has_more"], true);
    let r = app
        .call(
            "GET",
            "/v1/organizations/spend_limits?scope_type=key",
            Cred::Auditor,
            "",
        )
        .await;
    assert_eq!(ids(&r.json), [key["id"].as_str().unwrap()]);
    let empty = app
        .call(
            "GET",
            "/v1/organizations/spend_limits?scope_type=rbac_group",
            Cred::Auditor,
            "",
        )
        .await;
    assert_eq!(
        empty.json,
        json!({"data": [], "has_more": false, "first_id": null, "last_id": null})
    );

    // Get, delete, gone.
    let path = format!("{LIMITS}/{id}");
    let r = app.call("GET", &path, Cred::Auditor, "").await;
    assert_eq!(r.json, replaced);
    let r = app.call("DELETE", &path, Cred::Admin, "").await;
    assert_request_id(&r, "delete");
    assert_eq!(r.json, json!({"type": "spend_limit_deleted", "id": id}));
    let r = app.call("GET", &path, Cred::Admin, "").await;
    assert_error(
        &r,
        404,
        "not_found_error",
        "spend limit not found",
        "after delete",
    );

    // The audit: newest first, the object before and after, the actor.
    let r = app
        .call(
            "GET",
            "/v1/organizations/spend_limits/audit?limit=2",
            Cred::Auditor,
            "",
        )
        .await;
    assert_request_id(&r, "audit");
    let entries = r.json["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(r.json["has_more"], true);
    assert_eq!(entries[0]["type"], "spend_limit_audit_entry");
    assert_eq!(entries[0]["action"], "delete");
    assert_eq!(entries[0]["spend_limit_id"], id);
    assert_eq!(entries[0]["actor"], "user:admin");
    assert_eq!(entries[0]["before"], replaced);
    assert!(entries[0]["after"].is_null());
    assert_eq!(entries[1]["action"], "upsert");
    assert!(entries[1]["before"].is_null(), "the key limit was created");
    assert_eq!(entries[1]["after"], key);
    let older = format!(
        "/v1/organizations/spend_limits/audit?after_id={}",
        entries[1]["id"].as_str().unwrap()
    );
    let r = app.call("GET", &older, Cred::Auditor, "").await;
    let rest = r.json["data"].as_array().unwrap();
    assert_eq!(rest.len(), 3, "{}", r.text);
    assert_eq!(
        rest[1]["before"], created,
        "the replace shows the limit before"
    );
    assert_eq!(rest[1]["after"], replaced);
    assert_eq!(r.json["has_more"], false);
}

#[tokio::test]
async fn effective_limits_per_member() {
    let app = App::new().await;
    let platform = app
        .store
        .create_team("platform", &team_support::system())
        .await
        .unwrap();
    for subject in ["alice", "bob", "carol"] {
        team_support::user(&app.store, subject, Role::Member, None).await;
    }
    let alice = app.user_id("alice").await;
    app.store
        .set_user_team(&alice, Some(&platform.id), &team_support::system())
        .await
        .unwrap();
    // Per-seat defaults: the organization, two group caps naming alice's team (by name and by
    // id: the tighter wins), carol's own explicit "no cap", a daily cap for bob alone.
    let org = app
        .upsert(json!({"scope": {"type": "organization"}, "period": "monthly", "amount": "50000"}))
        .await;
    let by_name = app
        .upsert(
            json!({"scope": {"type": "rbac_group", "rbac_group_id": "platform"},
                       "period": "monthly", "amount": "10000"}),
        )
        .await;
    app.upsert(
        json!({"scope": {"type": "rbac_group", "rbac_group_id": platform.id},
                      "period": "monthly", "amount": "20000"}),
    )
    .await;
    let carol = app
        .upsert(
            json!({"scope": {"type": "user", "user_id": "carol"}, "period": "monthly",
                       "amount": null}),
        )
        .await;
    let bob_daily = app
        .upsert(
            json!({"scope": {"type": "user", "user_id": "bob"}, "period": "daily",
                       "amount": "700"}),
        )
        .await;
    // Pools do not show here.
    app.upsert(json!({"scope": {"type": "gateway"}, "period": "monthly", "amount": "1"}))
        .await;
    // Alice's spend this month and today: $0.054399 = 5.4399 cents.
    let now = app.team.spend.now();
    let tz = &app.team.spend.tz;
    let deltas: Vec<TotalDelta> = [Period::Monthly, Period::Daily]
        .into_iter()
        .map(|p| TotalDelta {
            scope: format!("user:{alice}"),
            period: p.as_str().into(),
            period_start: p.window(now, tz).0,
            cost_nanos: 54_399_000,
        })
        .collect();
    app.store.insert_spend(&[], &deltas).await.unwrap();

    let r = app
        .call(
            "GET",
            "/v1/organizations/spend_limits/effective",
            Cred::Auditor,
            "",
        )
        .await;
    assert_request_id(&r, "effective");
    assert_eq!(r.json["has_more"], false);
    assert!(r.json["next_page"].is_null());
    let rows = r.json["data"].as_array().unwrap();
    let summary: Vec<(String, String, Value, Value, String)> = rows
        .iter()
        .map(|row| {
            (
                row["actor"]["user_id"].as_str().unwrap().to_owned(),
                row["period"].as_str().unwrap().to_owned(),
                row["source"]["type"].clone(),
                row["amount"].clone(),
                row["period_to_date_spend"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        summary,
        vec![
            (
                s("admin"),
                s("monthly"),
                json!("organization"),
                json!("50000"),
                s("0")
            ),
            (
                s("alice"),
                s("monthly"),
                json!("rbac_group"),
                json!("10000"),
                s("5.4399")
            ),
            (
                s("auditor"),
                s("monthly"),
                json!("organization"),
                json!("50000"),
                s("0")
            ),
            (s("bob"), s("daily"), json!("user"), json!("700"), s("0")),
            (
                s("bob"),
                s("monthly"),
                json!("organization"),
                json!("50000"),
                s("0")
            ),
            (s("carol"), s("monthly"), json!("user"), Value::Null, s("0")),
            (
                s("member"),
                s("monthly"),
                json!("organization"),
                json!("50000"),
                s("0")
            ),
        ]
    );
    let alice_row = &rows[1];
    assert_eq!(
        *alice_row,
        json!({
            "actor": {"type": "user", "user_id": "alice", "email": null},
            "scope": {"type": "user", "user_id": "alice"},
            "source": {"type": "rbac_group", "rbac_group_id": "platform"},
            "spend_limit_id": by_name["id"],
            "period": "monthly",
            "amount": "10000",
            "currency": "USD",
            "period_to_date_spend": "5.4399",
        })
    );
    assert_eq!(rows[0]["spend_limit_id"], org["id"]);
    assert_eq!(rows[3]["spend_limit_id"], bob_daily["id"]);
    assert_eq!(rows[5]["spend_limit_id"], carol["id"]);

    // Pages of members: bob's two periods stay together.
    let mut seen = Vec::new();
    let mut path = s("/v1/organizations/spend_limits/effective?limit=2");
    loop {
        let r = app.call("GET", &path, Cred::Admin, "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let members: Vec<String> = r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["actor"]["user_id"].as_str().unwrap().to_owned())
            .collect();
        seen.push(members);
        match r.json["next_page"].as_str() {
            Some(next) => {
                assert_eq!(r.json["has_more"], true);
                path = format!("/v1/organizations/spend_limits/effective?limit=2&page={next}");
            }
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            vec![s("admin"), s("alice")],
            vec![s("auditor"), s("bob"), s("bob")],
            vec![s("carol"), s("member")],
        ]
    );

    // Asked-for members and periods: a period no limit resolves for still answers.
    let r = app
        .call(
            "GET",
            "/v1/organizations/spend_limits/effective?user_ids[]=alice&user_ids[]=carol&period[]=daily",
            Cred::Admin,
            "",
        )
        .await;
    let rows = r.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", r.text);
    assert_eq!(rows[0]["actor"]["user_id"], "alice");
    assert!(rows[0]["source"].is_null());
    assert!(rows[0]["spend_limit_id"].is_null());
    assert!(rows[0]["amount"].is_null());
    assert_eq!(rows[0]["period_to_date_spend"], "5.4399");
    assert_eq!(rows[1]["actor"]["user_id"], "carol");
}

/// A ledger row for `subject` (user id `uid`) at `at_ms` costing `cost` nano-dollars.
fn ledger_row(uid: &str, subject: &str, model: &str, at_ms: i64, cost: Option<i64>) -> SpendRow {
    SpendRow {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms,
        user_id: Some(uid.into()),
        subject: Some(subject.into()),
        team_id: None,
        key_id: Some("key-1".into()),
        upstream: Some("bedrock".into()),
        model: model.into(),
        upstream_model: None,
        path: "/v1/messages".into(),
        status: 200,
        latency_ms: 900,
        ttft_ms: Some(100),
        input_tokens: 3,
        cache_write_5m: 12_304,
        cache_write_1h: 0,
        cache_read: 0,
        output_tokens: 550,
        credits_micros: None,
        estimated: false,
        cost_nanos: cost,
        priced_by: cost.map(|_| "list:claude-sonnet-4".into()),
    }
}

#[tokio::test]
async fn spend_report_json_and_csv() {
    let app = App::new().await;
    let now_ms = app.team.spend.now() * 1000;
    let (month_start, _) = Period::Monthly.window(app.team.spend.now(), &TimeZone::UTC);
    let odd = r#"d,"quoted""#;
    app.store
        .insert_spend(
            &[
                ledger_row("u1", "alice", "claude-sonnet-4-5", now_ms, Some(54_399_000)),
                ledger_row("u1", "alice", "claude-sonnet-4-5", now_ms, Some(54_399_000)),
                ledger_row("u2", odd, "mystery", now_ms, None),
                // Last month: outside the default window.
                ledger_row(
                    "u1",
                    "alice",
                    "claude-sonnet-4-5",
                    month_start * 1000 - 1,
                    Some(1),
                ),
            ],
            &[],
        )
        .await
        .unwrap();

    let r = app.call("GET", "/admin/spend", Cred::Auditor, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["group_by"], "user");
    let from = r.json["from"].as_str().unwrap();
    assert!(from.ends_with("-01T00:00:00Z"), "{from}");
    assert_eq!(
        r.json["data"][0],
        json!({
            "group": "alice",
            "group_id": "u1",
            "requests": 2,
            "input_tokens": 6,
            "cache_write_5m_tokens": 24_608,
            "cache_write_1h_tokens": 0,
            "cache_read_tokens": 0,
            "output_tokens": 1_100,
            "cost_usd": "0.108798",
            "unpriced_requests": 0,
            "estimated_requests": 0,
        })
    );
    assert_eq!(r.json["data"][1]["group"], odd);
    assert_eq!(r.json["data"][1]["cost_usd"], "0.000000");
    assert_eq!(r.json["data"][1]["unpriced_requests"], 1);

    let r = app
        .call(
            "GET",
            "/admin/spend?group_by=model&from=1970-01-01&to=2999-12-31",
            Cred::Admin,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["to"], "3000-01-01T00:00:00Z",
        "a date includes its day"
    );
    assert_eq!(r.json["data"][0]["group"], "claude-sonnet-4-5");
    assert_eq!(r.json["data"][0]["requests"], 3);
    assert_eq!(r.json["data"][0]["cost_usd"], "0.108798");

    // CSV: by the parameter or by Accept; a header row, RFC 4180 quoting, CRLF.
    let want = "group,group_id,requests,input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,\
         cache_read_tokens,output_tokens,cost_usd,unpriced_requests,estimated_requests\r\n\
         alice,u1,2,6,24608,0,0,1100,0.108798,0,0\r\n\
         \"d,\"\"quoted\"\"\",u2,1,3,12304,0,0,550,0.000000,1,0\r\n";
    let by_param = app
        .call("GET", "/admin/spend?format=csv", Cred::Auditor, "")
        .await;
    assert_eq!(by_param.status, StatusCode::OK, "{}", by_param.text);
    assert_eq!(by_param.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(by_param.text, want);
    let by_accept = app
        .call_with(
            "GET",
            "/admin/spend",
            Cred::Auditor,
            "",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(by_accept.text, want);

    for (path, cred, status, fragment) in [
        ("/admin/spend?group_by=week", Cred::Admin, 400, "group_by"),
        (
            "/admin/spend?from=2026-12-02&to=2026-12-01",
            Cred::Admin,
            400,
            "before",
        ),
        ("/admin/spend?from=yesterday", Cred::Admin, 400, "RFC 3339"),
        ("/admin/spend?format=xml", Cred::Admin, 400, "format"),
        ("/admin/spend", Cred::Member, 403, "admin or auditor"),
        ("/admin/spend", Cred::None, 401, "missing credentials"),
    ] {
        let r = app.call("GET", path, cred, "").await;
        assert_eq!(r.status.as_u16(), status, "{path}: {}", r.text);
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{path}: {message}");
    }
}

#[tokio::test]
async fn price_overrides_over_the_api() {
    let app = App::new().await;
    let body =
        r#"{"input":"3","output":"15","cache_read":"0.30","write_5m":"3.75","write_1h":"6"}"#;
    let path = "/admin/prices/bedrock/claude-sonnet-4";
    let r = app.call("PUT", path, Cred::Admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let saved = r.json.clone();
    assert_eq!(
        (
            &saved["upstream"],
            &saved["model"],
            &saved["input"],
            &saved["cache_read"],
            &saved["write_5m"],
            &saved["write_1h"],
        ),
        (
            &json!("bedrock"),
            &json!("claude-sonnet-4"),
            &json!("3"),
            &json!("0.3"),
            &json!("3.75"),
            &json!("6"),
        )
    );
    let stored = app.store.list_price_overrides().await.unwrap();
    assert_eq!(
        (stored[0].input, stored[0].cache_read, stored[0].write_5m),
        (3_000_000, 300_000, 3_750_000),
        "micro-dollars per million tokens"
    );
    // Replaced: 200; a JSON number is read as written.
    let r = app
        .call(
            "PUT",
            path,
            Cred::Admin,
            r#"{"input":2.5,"output":"15","cache_read":"0.25","write_5m":"3.125","write_1h":"5"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["input"], "2.5");
    assert_eq!(r.json["write_5m"], "3.125");
    let r = app
        .call("PUT", "/admin/prices/*/claude-opus", Cred::Admin, body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = app.call("GET", "/admin/prices", Cred::Auditor, "").await;
    let listed: Vec<(&str, &str)> = r.json["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["upstream"].as_str().unwrap(),
                p["model"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("*", "claude-opus"), ("bedrock", "claude-sonnet-4")]
    );
    let r = app.call("GET", path, Cred::Auditor, "").await;
    assert_eq!(r.json["input"], "2.5");

    for (method, body, cred, status, fragment) in [
        (
            "PUT",
            r#"{"input":"3","output":"15","cache_read":"0.30","write_5m":"3.75"}"#,
            Cred::Admin,
            400,
            "write_1h: required",
        ),
        (
            "PUT",
            r#"{"input":"-3","output":"15","cache_read":"0.30","write_5m":"3.75","write_1h":"6"}"#,
            Cred::Admin,
            400,
            "input",
        ),
        (
            "PUT",
            r#"{"input":"3.0000001","output":"15","cache_read":"0.30","write_5m":"3.75","write_1h":"6"}"#,
            Cred::Admin,
            400,
            "6 decimals",
        ),
        (
            "PUT",
            r#"{"input":true,"output":"15","cache_read":"0.30","write_5m":"3.75","write_1h":"6"}"#,
            Cred::Admin,
            400,
            "decimal string",
        ),
        ("PUT", body, Cred::Auditor, 403, "auditors"),
        ("DELETE", "", Cred::Member, 403, "admin role"),
    ] {
        let r = app.call(method, path, cred, body).await;
        assert_eq!(r.status.as_u16(), status, "{method} {body}: {}", r.text);
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{body}: {message}");
    }

    let r = app.call("DELETE", path, Cred::Admin, "").await;
    assert_eq!(r.json, json!({"deleted": true}), "{}", r.text);
    let r = app.call("DELETE", path, Cred::Admin, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.call("GET", path, Cred::Admin, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let actions: Vec<String> = app
        .store
        .list_audit(10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("price."))
        .collect();
    assert_eq!(
        actions,
        [
            "price.delete",
            "price.upsert",
            "price.upsert",
            "price.upsert"
        ]
    );
}
