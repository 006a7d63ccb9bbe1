//! Spend reports for the portal (issue 15), each case on SQLite and on real Postgres: reports
//! filtered by user, team and model at once, and spend per UTC day and model (the stacked
//! chart), with the same filters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use conduit_store::{DayModel, Engine, GroupBy, SpendFilter, SpendRow};
use support::{run_all, Case, Db};

static CASES: &[Case] = &[
    case!(reports_filtered_by_user_team_model),
    case!(day_by_model),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_filtered_cases_on_sqlite() {
    run_all(Engine::Sqlite, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_filtered_cases_on_postgres() {
    run_all(Engine::Postgres, CASES).await;
}

/// 2026-12-06 00:00 UTC in Unix milliseconds.
const DAY0: i64 = 1_796_515_200_000;
const DAY_MS: i64 = 86_400_000;

/// A ledger row: `(user, team, model, at_ms, cost_nanos)`.
type Spec = (&'static str, &'static str, &'static str, i64, Option<i64>);

/// The ledger every case reads: alice (team red) and bob (team blue) on two models over three
/// days, one row unpriced, one row in the window's last millisecond and one just past it.
const LEDGER: &[Spec] = &[
    ("alice", "red", "sonnet", DAY0, Some(100)),
    ("alice", "red", "sonnet", DAY0 + 5, Some(200)),
    ("alice", "red", "haiku", DAY0 + 9, Some(1_000)),
    ("bob", "blue", "sonnet", DAY0 + 10, Some(50)),
    ("bob", "blue", "haiku", DAY0 + DAY_MS, None),
    ("bob", "blue", "haiku", DAY0 + DAY_MS + 1, Some(7)),
    ("alice", "red", "sonnet", DAY0 + 3 * DAY_MS - 1, Some(30)),
    ("alice", "red", "sonnet", DAY0 + 3 * DAY_MS, Some(999)),
];

const TO: i64 = DAY0 + 3 * DAY_MS;

fn row(n: usize, (user, team, model, at_ms, cost): Spec) -> SpendRow {
    SpendRow {
        id: format!("row-{n}"),
        at_ms,
        user_id: Some(format!("id-{user}")),
        subject: Some(user.into()),
        team_id: Some(format!("team-{team}")),
        key_id: None,
        upstream: Some("bedrock".into()),
        model: model.into(),
        upstream_model: None,
        path: "/v1/messages".into(),
        status: 200,
        latency_ms: 10,
        ttft_ms: None,
        input_tokens: 1,
        cache_write_5m: 0,
        cache_write_1h: 0,
        cache_read: 0,
        output_tokens: 1,
        credits_micros: None,
        estimated: false,
        cost_nanos: cost,
        priced_by: cost.map(|_| "list:test".into()),
    }
}

async fn seed(db: &Db) {
    let rows: Vec<SpendRow> = LEDGER.iter().enumerate().map(|(n, s)| row(n, *s)).collect();
    db.store.insert_spend(&rows, &[]).await.unwrap();
}

fn filter(user: Option<&str>, team: Option<&str>, model: Option<&str>) -> SpendFilter {
    SpendFilter {
        user_id: user.map(|u| format!("id-{u}")),
        team_id: team.map(|t| format!("team-{t}")),
        model: model.map(str::to_owned),
    }
}

pub async fn reports_filtered_by_user_team_model(db: &Db) {
    seed(db).await;
    let s = &db.store;
    // (group by, filter, [(group, requests, cost)])
    type Want = Vec<(&'static str, i64, i64)>;
    let cases: Vec<(GroupBy, SpendFilter, Want)> = vec![
        (
            GroupBy::User,
            SpendFilter::default(),
            vec![("alice", 4, 1_330), ("bob", 3, 57)],
        ),
        (
            GroupBy::Model,
            filter(None, None, None),
            vec![("haiku", 3, 1_007), ("sonnet", 4, 380)],
        ),
        (
            GroupBy::Model,
            filter(Some("alice"), None, None),
            vec![("haiku", 1, 1_000), ("sonnet", 3, 330)],
        ),
        (
            GroupBy::User,
            filter(None, Some("blue"), None),
            vec![("bob", 3, 57)],
        ),
        (
            GroupBy::Team,
            filter(None, None, Some("sonnet")),
            vec![("team-red", 3, 330), ("team-blue", 1, 50)],
        ),
        (
            GroupBy::Day,
            filter(None, Some("blue"), Some("haiku")),
            vec![("2026-12-07", 2, 7)],
        ),
        (
            GroupBy::Day,
            filter(Some("alice"), Some("red"), Some("sonnet")),
            vec![("2026-12-06", 2, 300), ("2026-12-08", 1, 30)],
        ),
        (
            GroupBy::User,
            filter(Some("alice"), Some("blue"), None),
            vec![],
        ),
        (
            GroupBy::Model,
            filter(None, None, Some("sonnet' OR '1'='1")),
            vec![],
        ),
    ];
    for (group_by, f, want) in cases {
        let got = s
            .spend_report_filtered(group_by, DAY0, TO, &f)
            .await
            .unwrap();
        let got: Vec<(String, i64, i64)> = got
            .into_iter()
            .map(|r| (r.group.unwrap_or_default(), r.requests, r.cost_nanos))
            .collect();
        let want: Vec<(String, i64, i64)> =
            want.into_iter().map(|(g, n, c)| (g.into(), n, c)).collect();
        assert_eq!(got, want, "{:?} {group_by:?} {f:?}", db.engine);
    }
    // spend_report is the user filter alone.
    let old = s
        .spend_report(GroupBy::Model, DAY0, TO, Some("id-bob"))
        .await
        .unwrap();
    let new = s
        .spend_report_filtered(GroupBy::Model, DAY0, TO, &filter(Some("bob"), None, None))
        .await
        .unwrap();
    assert_eq!(old, new);
}

pub async fn day_by_model(db: &Db) {
    seed(db).await;
    let s = &db.store;
    // (filter, window, [(day, model, requests, cost)])
    type Want = Vec<(&'static str, &'static str, i64, i64)>;
    let cases: Vec<(SpendFilter, (i64, i64), Want)> = vec![
        (
            SpendFilter::default(),
            (DAY0, TO),
            vec![
                ("2026-12-06", "haiku", 1, 1_000),
                ("2026-12-06", "sonnet", 3, 350),
                ("2026-12-07", "haiku", 2, 7),
                ("2026-12-08", "sonnet", 1, 30),
            ],
        ),
        (
            SpendFilter::default(),
            (DAY0 + DAY_MS, TO + 1),
            vec![
                ("2026-12-07", "haiku", 2, 7),
                ("2026-12-08", "sonnet", 1, 30),
                ("2026-12-09", "sonnet", 1, 999),
            ],
        ),
        (
            filter(Some("bob"), None, None),
            (DAY0, TO),
            vec![
                ("2026-12-06", "sonnet", 1, 50),
                ("2026-12-07", "haiku", 2, 7),
            ],
        ),
        (
            filter(None, Some("red"), Some("sonnet")),
            (DAY0, TO),
            vec![
                ("2026-12-06", "sonnet", 2, 300),
                ("2026-12-08", "sonnet", 1, 30),
            ],
        ),
        (filter(None, None, Some("opus")), (DAY0, TO), vec![]),
        (SpendFilter::default(), (TO + 1, TO + 2), vec![]),
    ];
    for (f, (from, to), want) in cases {
        let got = s.spend_by_day_model(from, to, &f).await.unwrap();
        let want: Vec<DayModel> = want
            .into_iter()
            .map(|(day, model, requests, cost_nanos)| DayModel {
                day: day.into(),
                model: model.into(),
                requests,
                cost_nanos,
            })
            .collect();
        assert_eq!(got, want, "{:?} {f:?} [{from}, {to})", db.engine);
    }
}
