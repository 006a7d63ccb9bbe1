//! The spend store (issue 14), each case on SQLite and on real Postgres (a fresh database per
//! case): the ledger's batched, idempotent inserts and running totals, reports, spend limits
//! with their audit, budget notices claimed once, and price overrides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::time::Instant;

use conduit_store::{
    Engine, GroupBy, LimitPage, NewSpendLimit, PriceOverride, SpendPeriod, SpendRow, SpendScope,
    SpendTotal, StoreError, TotalDelta,
};
use support::{actor, audit_actions, race2, run_all, Case, Db};

static CASES: &[Case] = &[
    case!(ten_thousand_rows_in_batches),
    case!(every_column_round_trips),
    case!(retried_batch_is_idempotent),
    case!(totals_add_up_per_window),
    case!(report_groups),
    case!(report_window_and_user_filter),
    case!(limits_upsert_get_delete_audited),
    case!(limits_listed_in_pages),
    case!(notice_claimed_once),
    case!(price_overrides_crud_audited),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_cases_on_sqlite() {
    run_all(Engine::Sqlite, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_cases_on_postgres() {
    run_all(Engine::Postgres, CASES).await;
}

/// 2026-12-06 00:00 UTC in Unix milliseconds.
const DAY0: i64 = 1_796_515_200_000;
const DAY_MS: i64 = 86_400_000;

/// A priced ledger row `n` for `user` at `at_ms` (model `claude-sonnet-4-5`).
fn row(n: u32, user: Option<&str>, at_ms: i64) -> SpendRow {
    SpendRow {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms,
        user_id: user.map(|u| format!("id-{u}")),
        subject: user.map(str::to_owned),
        team_id: None,
        key_id: Some(format!("key-{}", n % 3)),
        upstream: Some("bedrock".into()),
        model: "claude-sonnet-4-5".into(),
        upstream_model: Some("us.anthropic.claude-sonnet-4-5".into()),
        path: "/v1/messages".into(),
        status: 200,
        latency_ms: 1200,
        ttft_ms: Some(300),
        input_tokens: 3,
        cache_write_5m: 12_304,
        cache_write_1h: 0,
        cache_read: 0,
        output_tokens: 550,
        credits_micros: None,
        estimated: false,
        // LiteLLM #9812's request priced right: $0.054399.
        cost_nanos: Some(54_399_000),
        priced_by: Some("list:claude-sonnet-4".into()),
    }
}

fn delta(scope: &str, period: &str, start: i64, cost: i64) -> TotalDelta {
    TotalDelta {
        scope: scope.into(),
        period: period.into(),
        period_start: start,
        cost_nanos: cost,
    }
}

async fn total_requests(db: &Db) -> i64 {
    let report = db
        .store
        .spend_report(GroupBy::Model, 0, i64::MAX, None)
        .await
        .unwrap();
    report.iter().map(|r| r.requests).sum()
}

pub async fn ten_thousand_rows_in_batches(db: &Db) {
    let s = &db.store;
    let started = Instant::now();
    let mut inserted = 0;
    for batch in 0..20u32 {
        let rows: Vec<SpendRow> = (0..500)
            .map(|i| row(batch * 500 + i, Some("alice"), DAY0 + i64::from(i)))
            .collect();
        let cost: i64 = rows.iter().filter_map(|r| r.cost_nanos).sum();
        let totals = [
            delta("user:id-alice", "daily", DAY0 / 1000, cost),
            delta("gateway", "total", 0, cost),
        ];
        inserted += s.insert_spend(&rows, &totals).await.unwrap();
    }
    eprintln!(
        "{:?}: 10,000 ledger rows in 20 batches: {:?}",
        db.engine,
        started.elapsed()
    );
    assert_eq!(inserted, 10_000);
    assert_eq!(total_requests(db).await, 10_000);
    let totals = s
        .period_totals(&[("daily", DAY0 / 1000), ("total", 0)])
        .await
        .unwrap();
    let want = 10_000 * 54_399_000;
    assert_eq!(
        totals,
        vec![
            SpendTotal {
                scope: "gateway".into(),
                period: "total".into(),
                period_start: 0,
                cost_nanos: want,
            },
            SpendTotal {
                scope: "user:id-alice".into(),
                period: "daily".into(),
                period_start: DAY0 / 1000,
                cost_nanos: want,
            },
        ]
    );
}

pub async fn every_column_round_trips(db: &Db) {
    let s = &db.store;
    let full = row(1, Some("alice"), DAY0);
    let mut bare = row(2, None, DAY0 + 1);
    bare.key_id = None;
    bare.upstream = None;
    bare.upstream_model = None;
    bare.ttft_ms = None;
    bare.cost_nanos = None;
    bare.priced_by = None;
    let mut kiro = row(3, Some("bob"), DAY0 + 2);
    kiro.team_id = Some("team-1".into());
    kiro.credits_micros = Some(1_250_000);
    kiro.estimated = true;
    kiro.priced_by = Some("kiro-credit".into());
    kiro.status = 529;
    kiro.cache_write_1h = 77;
    kiro.cache_read = 9_999;
    let rows = vec![full, bare, kiro];
    assert_eq!(s.insert_spend(&rows, &[]).await.unwrap(), 3);
    let back = s.spend_rows(None, DAY0, DAY0 + 10, 100).await.unwrap();
    assert_eq!(back, rows);
    let bobs = s
        .spend_rows(Some("id-bob"), DAY0, DAY0 + 10, 100)
        .await
        .unwrap();
    assert_eq!(bobs, vec![rows[2].clone()]);
    assert_eq!(
        s.spend_rows(None, DAY0, DAY0 + 10, 2).await.unwrap().len(),
        2
    );
    // Retention: rows before the cut go, with the totals of windows that began before it.
    let daily = [delta("gateway", "daily", DAY0 / 1000, 5)];
    s.insert_spend(&[], &daily).await.unwrap();
    s.insert_spend(&[], &[delta("gateway", "total", 0, 5)])
        .await
        .unwrap();
    assert_eq!(s.prune_spend(DAY0 + 2).await.unwrap(), 2);
    assert_eq!(s.spend_rows(None, 0, i64::MAX, 100).await.unwrap().len(), 1);
    let left = s
        .period_totals(&[("daily", DAY0 / 1000), ("total", 0)])
        .await
        .unwrap();
    assert_eq!(left.len(), 2, "windows that began at the cut's second stay");
    s.prune_spend(DAY0 + DAY_MS).await.unwrap();
    let left = s
        .period_totals(&[("daily", DAY0 / 1000), ("total", 0)])
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|t| t.period.as_str()).collect::<Vec<_>>(),
        ["total"]
    );
}

pub async fn retried_batch_is_idempotent(db: &Db) {
    let s = &db.store;
    // 450 rows: three statements, the last one short.
    let rows: Vec<SpendRow> = (0..450).map(|i| row(i, Some("alice"), DAY0)).collect();
    assert_eq!(s.insert_spend(&rows, &[]).await.unwrap(), 450);
    assert_eq!(s.insert_spend(&rows, &[]).await.unwrap(), 0);
    // A batch overlapping the first: only the new rows count.
    let mut more = rows[400..].to_vec();
    more.extend((0..25).map(|i| row(i, Some("bob"), DAY0)));
    assert_eq!(s.insert_spend(&more, &[]).await.unwrap(), 25);
    assert_eq!(total_requests(db).await, 475);
    assert_eq!(s.insert_spend(&[], &[]).await.unwrap(), 0);
}

pub async fn totals_add_up_per_window(db: &Db) {
    let s = &db.store;
    let (today, yesterday) = (DAY0 / 1000, (DAY0 - DAY_MS) / 1000);
    s.insert_spend(
        &[],
        &[
            delta("user:a", "daily", today, 10),
            delta("user:a", "daily", today, 5),
            delta("user:a", "daily", yesterday, 1_000),
            delta("team:t", "daily", today, 15),
            delta("user:a", "monthly", today, 15),
        ],
    )
    .await
    .unwrap();
    s.insert_spend(
        &[],
        &[
            delta("user:a", "daily", today, 100),
            delta("user:b", "daily", today, 7),
        ],
    )
    .await
    .unwrap();
    // Two writers at once on the same totals: both land.
    let other = db.second_handle().await;
    race2(s, &other, |store, _| async move {
        let totals = [
            delta("user:a", "daily", DAY0 / 1000, 1),
            delta("team:t", "daily", DAY0 / 1000, 1),
        ];
        store.insert_spend(&[], &totals).await.unwrap();
    })
    .await;
    let got = s.period_totals(&[("daily", today)]).await.unwrap();
    let got: Vec<(&str, i64)> = got
        .iter()
        .map(|t| (t.scope.as_str(), t.cost_nanos))
        .collect();
    assert_eq!(got, [("team:t", 17), ("user:a", 117), ("user:b", 7)]);
    let scoped = s
        .scope_totals(
            &["user:a".into()],
            &[("daily", today), ("daily", yesterday), ("monthly", today)],
        )
        .await
        .unwrap();
    let scoped: Vec<(&str, i64, i64)> = scoped
        .iter()
        .map(|t| (t.period.as_str(), t.period_start, t.cost_nanos))
        .collect();
    assert_eq!(
        scoped,
        [
            ("daily", yesterday, 1_000),
            ("daily", today, 117),
            ("monthly", today, 15)
        ]
    );
    assert!(s.period_totals(&[]).await.unwrap().is_empty());
    assert!(s
        .scope_totals(&[], &[("daily", today)])
        .await
        .unwrap()
        .is_empty());
}

pub async fn report_groups(db: &Db) {
    let s = &db.store;
    let team = s.create_team("platform", &actor()).await.unwrap();
    let mut rows = Vec::new();
    for i in 0..3 {
        let mut r = row(i, Some("alice"), DAY0 + i64::from(i));
        r.team_id = Some(team.id.clone());
        rows.push(r);
    }
    let mut unpriced = row(9, Some("bob"), DAY0 + DAY_MS + 5);
    unpriced.model = "mystery-model".into();
    unpriced.cost_nanos = None;
    unpriced.priced_by = None;
    unpriced.team_id = Some("gone-team".into());
    rows.push(unpriced);
    let mut estimated = row(10, None, DAY0 - 1);
    estimated.estimated = true;
    estimated.input_tokens = 100;
    estimated.key_id = None;
    rows.push(estimated);
    s.insert_spend(&rows, &[]).await.unwrap();

    let groups = |report: &[conduit_store::ReportRow]| -> Vec<(Option<String>, i64, i64)> {
        report
            .iter()
            .map(|r| (r.group.clone(), r.requests, r.cost_nanos))
            .collect()
    };
    let by_user = s
        .spend_report(GroupBy::User, 0, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        groups(&by_user),
        [
            (Some("alice".into()), 3, 3 * 54_399_000),
            (None, 1, 54_399_000),
            (Some("bob".into()), 1, 0),
        ]
    );
    assert_eq!(by_user[0].id.as_deref(), Some("id-alice"));
    assert_eq!(
        (
            by_user[0].input,
            by_user[0].cache_write_5m,
            by_user[0].output
        ),
        (9, 3 * 12_304, 3 * 550)
    );
    assert_eq!((by_user[1].estimated, by_user[1].input), (1, 100));
    assert_eq!((by_user[2].unpriced, by_user[2].estimated), (1, 0));

    let by_team = s
        .spend_report(GroupBy::Team, 0, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        groups(&by_team),
        [
            (Some("platform".into()), 3, 3 * 54_399_000),
            (None, 1, 54_399_000),
            (Some("gone-team".into()), 1, 0),
        ]
    );
    assert_eq!(by_team[0].id.as_deref(), Some(team.id.as_str()));

    let by_model = s
        .spend_report(GroupBy::Model, 0, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        groups(&by_model),
        [
            (Some("claude-sonnet-4-5".into()), 4, 4 * 54_399_000),
            (Some("mystery-model".into()), 1, 0),
        ]
    );
    assert_eq!(by_model[1].unpriced, 1);

    let by_key = s
        .spend_report(GroupBy::Key, 0, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        groups(&by_key),
        [
            (Some("key-0".into()), 2, 54_399_000),
            (None, 1, 54_399_000),
            (Some("key-1".into()), 1, 54_399_000),
            (Some("key-2".into()), 1, 54_399_000),
        ]
    );
    assert_eq!(by_key[0].id.as_deref(), Some("key-0"));

    let by_day = s
        .spend_report(GroupBy::Day, 0, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(
        groups(&by_day),
        [
            (Some("2026-12-05".into()), 1, 54_399_000),
            (Some("2026-12-06".into()), 3, 3 * 54_399_000),
            (Some("2026-12-07".into()), 1, 0),
        ]
    );
}

pub async fn report_window_and_user_filter(db: &Db) {
    let s = &db.store;
    let rows = vec![
        row(0, Some("alice"), DAY0 - 1),
        row(1, Some("alice"), DAY0),
        row(2, Some("bob"), DAY0 + 10),
        row(3, Some("alice"), DAY0 + DAY_MS),
    ];
    s.insert_spend(&rows, &[]).await.unwrap();
    let report = s
        .spend_report(GroupBy::User, DAY0, DAY0 + DAY_MS, None)
        .await
        .unwrap();
    let got: Vec<(Option<String>, i64)> = report
        .iter()
        .map(|r| (r.group.clone(), r.requests))
        .collect();
    assert_eq!(
        got,
        [(Some("alice".into()), 1), (Some("bob".into()), 1)],
        "[from, to): the start included, the end not"
    );
    let mine = s
        .spend_report(GroupBy::Day, 0, i64::MAX, Some("id-alice"))
        .await
        .unwrap();
    let got: Vec<(Option<String>, i64)> =
        mine.iter().map(|r| (r.group.clone(), r.requests)).collect();
    assert_eq!(
        got,
        [
            (Some("2026-12-05".into()), 1),
            (Some("2026-12-06".into()), 1),
            (Some("2026-12-07".into()), 1)
        ]
    );
    let empty = s
        .spend_report(GroupBy::Team, DAY0 + 5 * DAY_MS, DAY0 + 6 * DAY_MS, None)
        .await
        .unwrap();
    assert!(empty.is_empty());
}

fn new_limit(
    scope: SpendScope,
    id: &str,
    period: SpendPeriod,
    cents: Option<i64>,
) -> NewSpendLimit {
    NewSpendLimit {
        scope_type: scope,
        scope_id: id.into(),
        period,
        amount_cents: cents,
        currency: "USD".into(),
        is_enabled: true,
    }
}

pub async fn limits_upsert_get_delete_audited(db: &Db) {
    let s = &db.store;
    let (first, created) = s
        .upsert_spend_limit(
            &new_limit(SpendScope::User, "alice", SpendPeriod::Daily, Some(5_000)),
            &actor(),
        )
        .await
        .unwrap();
    assert!(created);
    assert!(first.id.starts_with("spl_"), "{}", first.id);
    assert_eq!(first.amount_cents, Some(5_000));
    assert_eq!(first.created_at, first.updated_at);
    // The same scope and period: replaced, same id; an explicit no-cap is NULL.
    let (second, created) = s
        .upsert_spend_limit(
            &new_limit(SpendScope::User, "alice", SpendPeriod::Daily, None),
            &actor(),
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(second.id, first.id);
    assert_eq!(second.amount_cents, None);
    assert_eq!(second.created_at, first.created_at);
    // Another period is another limit.
    let (weekly, created) = s
        .upsert_spend_limit(
            &new_limit(SpendScope::User, "alice", SpendPeriod::Weekly, Some(0)),
            &actor(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_ne!(weekly.id, first.id);
    assert_eq!(
        s.spend_limit(&first.id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(s.spend_limit("spl_nope").await.unwrap(), None);
    assert_eq!(
        s.all_spend_limits().await.unwrap(),
        vec![second.clone(), weekly.clone()]
    );
    // Delete: the row it was; a second delete is NotFound and writes nothing.
    assert!(s.claim_notice(&weekly.id, 0, 50).await.unwrap());
    assert_eq!(
        s.delete_spend_limit(&weekly.id, &actor()).await.unwrap(),
        weekly
    );
    assert!(
        s.claim_notice(&weekly.id, 0, 50).await.unwrap(),
        "a deleted limit's notices go with it"
    );
    match s.delete_spend_limit(&weekly.id, &actor()).await {
        Err(StoreError::NotFound { what }) => assert_eq!(what, "spend limit"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        audit_actions(s).await,
        [
            "spend_limit.upsert",
            "spend_limit.upsert",
            "spend_limit.upsert",
            "spend_limit.delete"
        ]
    );
    let (entries, more) = s.spend_limit_audit(10, None).await.unwrap();
    assert!(!more);
    assert_eq!(entries.len(), 4);
    let delete = &entries[0];
    assert_eq!(delete.target.as_deref(), Some(weekly.id.as_str()));
    assert!(delete.detail["after"].is_null());
    let before: conduit_store::SpendLimit =
        serde_json::from_value(delete.detail["before"].clone()).unwrap();
    assert_eq!(before, weekly);
    let replaced = &entries[2];
    assert_eq!(replaced.detail["before"]["amount_cents"], 5_000);
    assert!(replaced.detail["after"]["amount_cents"].is_null());
    assert_eq!(replaced.detail["after"]["scope_type"], "user");
    assert!(entries[3].detail["before"].is_null(), "created: no before");
    assert_eq!(entries[3].actor, "user:admin");
    // Paging the audit: older than an entry.
    let (page, more) = s.spend_limit_audit(2, None).await.unwrap();
    assert!(more);
    let (rest, more) = s.spend_limit_audit(2, Some(&page[1].id)).await.unwrap();
    assert!(!more);
    assert_eq!(
        page.iter().chain(&rest).map(|e| &e.id).collect::<Vec<_>>(),
        entries.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    assert!(matches!(
        s.spend_limit_audit(2, Some("nope")).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn limits_listed_in_pages(db: &Db) {
    let s = &db.store;
    let mut ids = Vec::new();
    for (i, scope) in [
        SpendScope::User,
        SpendScope::RbacGroup,
        SpendScope::Organization,
        SpendScope::Team,
        SpendScope::Key,
        SpendScope::Gateway,
        SpendScope::User,
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("s{i}");
        let (l, _) = s
            .upsert_spend_limit(
                &new_limit(scope, &id, SpendPeriod::Monthly, Some(100)),
                &actor(),
            )
            .await
            .unwrap();
        ids.push(l.id);
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let page = |limit, after: Option<&String>, before: Option<&String>| LimitPage {
        limit,
        after_id: after.cloned(),
        before_id: before.cloned(),
        scope_type: None,
    };
    let all = s.list_spend_limits(&page(100, None, None)).await.unwrap();
    let got: Vec<String> = all.data.iter().map(|l| l.id.clone()).collect();
    assert_eq!((got, all.has_more), (newest_first.clone(), false));
    let first = s.list_spend_limits(&page(3, None, None)).await.unwrap();
    assert!(first.has_more);
    let got: Vec<&String> = first.data.iter().map(|l| &l.id).collect();
    assert_eq!(got, newest_first[..3].iter().collect::<Vec<_>>());
    let next = s
        .list_spend_limits(&page(3, Some(&newest_first[2]), None))
        .await
        .unwrap();
    let got: Vec<&String> = next.data.iter().map(|l| &l.id).collect();
    assert_eq!(got, newest_first[3..6].iter().collect::<Vec<_>>());
    assert!(next.has_more);
    let last = s
        .list_spend_limits(&page(3, Some(&newest_first[5]), None))
        .await
        .unwrap();
    assert_eq!(last.data.len(), 1);
    assert!(!last.has_more);
    // Back towards newer ones: the nearest page, still newest first.
    let back = s
        .list_spend_limits(&page(2, None, Some(&newest_first[4])))
        .await
        .unwrap();
    let got: Vec<&String> = back.data.iter().map(|l| &l.id).collect();
    assert_eq!(got, newest_first[2..4].iter().collect::<Vec<_>>());
    assert!(back.has_more);
    let users = s
        .list_spend_limits(&LimitPage {
            limit: 10,
            scope_type: Some(SpendScope::User),
            ..LimitPage::default()
        })
        .await
        .unwrap();
    let got: Vec<&str> = users.data.iter().map(|l| l.scope_id.as_str()).collect();
    assert_eq!(got, ["s6", "s0"]);
}

pub async fn notice_claimed_once(db: &Db) {
    let s = &db.store;
    assert!(s.claim_notice("spl_a", 100, 75).await.unwrap());
    assert!(!s.claim_notice("spl_a", 100, 75).await.unwrap());
    assert!(s.claim_notice("spl_a", 100, 95).await.unwrap());
    assert!(s.claim_notice("spl_a", 200, 75).await.unwrap());
    assert!(s.claim_notice("spl_b", 100, 75).await.unwrap());
    // Two instances at once: exactly one sends the notice.
    let other = db.second_handle().await;
    let outcomes = race2(s, &other, |store, _| async move {
        store.claim_notice("spl_race", 100, 50).await.unwrap()
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|won| **won).count(),
        1,
        "{outcomes:?}"
    );
}

fn price(upstream: &str, model: &str, input: i64) -> PriceOverride {
    PriceOverride {
        upstream: upstream.into(),
        model: model.into(),
        input,
        output: 15_000_000,
        cache_read: 300_000,
        write_5m: 3_750_000,
        write_1h: 6_000_000,
        updated_at: 0,
    }
}

pub async fn price_overrides_crud_audited(db: &Db) {
    let s = &db.store;
    let (p, created) = s
        .upsert_price_override(&price("bedrock", "claude-sonnet-4", 3_000_000), &actor())
        .await
        .unwrap();
    assert!(created);
    assert!(p.updated_at > 0);
    let (q, created) = s
        .upsert_price_override(&price("*", "claude-opus", 5_000_000), &actor())
        .await
        .unwrap();
    assert!(created);
    let (p2, created) = s
        .upsert_price_override(&price("bedrock", "claude-sonnet-4", 2_500_000), &actor())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(p2.input, 2_500_000);
    assert_eq!(
        s.list_price_overrides().await.unwrap(),
        vec![q.clone(), p2.clone()]
    );
    assert_eq!(
        s.delete_price_override("*", "claude-opus", &actor())
            .await
            .unwrap(),
        q
    );
    assert!(matches!(
        s.delete_price_override("*", "claude-opus", &actor()).await,
        Err(StoreError::NotFound {
            what: "price override"
        })
    ));
    assert_eq!(s.list_price_overrides().await.unwrap(), vec![p2]);
    assert_eq!(
        audit_actions(s).await,
        [
            "price.upsert",
            "price.upsert",
            "price.upsert",
            "price.delete"
        ]
    );
    let audit = s.list_audit(10, None).await.unwrap();
    assert_eq!(audit[0].target.as_deref(), Some("*/claude-opus"));
    assert_eq!(audit[1].detail["before"]["input"], 3_000_000);
    assert_eq!(audit[1].detail["after"]["input"], 2_500_000);
}
