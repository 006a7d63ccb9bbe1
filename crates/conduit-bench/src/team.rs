//! `--scenario team`: what team mode costs. The latency a virtual key adds over personal mode on
//! the same simulator and request (sequential alternating pairs), conduit's RSS and time to ready
//! with an empty store and with N keys loaded (10,000; made through the API, then a restart on
//! the same SQLite file), and revocation propagation between three instances on one Postgres
//! database. Reports only.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

use crate::load::{self, Target};
use crate::procs::Procs;
use crate::stats::{self, Percentiles};
use crate::team_procs::{pg_server_url, PgDb, TeamServer};
use crate::{via_target, workload, Kind};

const REVOCATIONS: usize = 20;
const POLL: Duration = Duration::from_millis(1);

pub struct Propagation {
    pub revocations: usize,
    /// Seconds from each revoke's answer to the first 401 on each other instance.
    pub samples: Vec<Duration>,
    pub p50: Duration,
    pub max: Duration,
}

/// `n` sequential pairs of the same request through personal mode and team mode, the order
/// within a pair alternating so that neither side is always second.
pub struct Pairs {
    pub workload: &'static str,
    pub n: usize,
    pub personal: Percentiles,
    pub team: Percentiles,
    /// The median of the per-pair differences (team − personal), in µs: less disturbed by the
    /// machine's drift than the difference of the two medians.
    pub paired_median_us: f64,
}

pub struct TeamRun {
    pub quick: bool,
    pub keys: usize,
    pub create_secs: f64,
    pub rss_empty_kb: u64,
    pub rss_keys_kb: u64,
    pub ready_empty: Duration,
    pub ready_keys: Duration,
    /// Sequential pairs, personal and team, per workload.
    pub latency: Vec<Pairs>,
    pub propagation: Result<Propagation, String>,
    pub load_before: f64,
    pub load_after: f64,
    pub elapsed: Duration,
}

pub async fn run(quick: bool) -> anyhow::Result<TeamRun> {
    let began = Instant::now();
    let load_before = stats::load_avg();
    let procs = Procs::start().await?;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(256)
        .build()?;
    let home = procs.dir().join("team");
    let keys = if quick { 1_000 } else { 10_000 };

    eprintln!("[team] empty store");
    let server = TeamServer::start(&procs, &home, None).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty_kb, ready_empty) = (stats::rss_kb(server.pid())?, server.ready_after);
    eprintln!("[team] {keys} keys through the API");
    let token = server.login(&client).await?;
    let started = Instant::now();
    let (bench_id, bench_key) = make_keys(&client, &server, &token, keys).await?;
    let create_secs = started.elapsed().as_secs_f64();
    drop(server);

    eprintln!("[team] restart with {keys} keys");
    let server = TeamServer::start(&procs, &home, None).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_keys_kb, ready_keys) = (stats::rss_kb(server.pid())?, server.ready_after);

    let mut latency = Vec::new();
    for (name, kind, body, n) in [
        (
            "streamed",
            Kind::Streamed,
            workload::claude_code_request(),
            1000,
        ),
        ("small", Kind::Small, workload::small_request(), 3000),
    ] {
        let n = if quick { 30 } else { n };
        eprintln!("[team] {name}: personal vs team ×{n}");
        let personal = via_target(kind, &procs, "/v1/messages", body.clone())?;
        let team = team_target(&server.url, &bench_key, body)?;
        latency.push(pairs(&client, name, &personal, &team, n).await?);
    }
    // The same streamed pairs with everything issue 14 adds on the key's path: RPM, TPM and
    // concurrency limits on the key (counted in memory on SQLite), a gateway-wide monthly budget
    // (checked in memory, headers on every answer) and its ledger row priced and queued.
    let token = server.login(&client).await?;
    server
        .send(
            &client,
            reqwest::Method::PUT,
            &format!("/admin/limits/key/{bench_id}"),
            Some(&token),
            serde_json::json!({"rpm": 1_000_000, "tpm": 1_000_000_000_000i64, "max_streams": 1_000}),
        )
        .await?;
    server
        .post(
            &client,
            "/v1/organizations/spend_limits",
            Some(&token),
            serde_json::json!({"scope": {"type": "gateway"}, "period": "monthly",
                               "amount": "100000000"}),
        )
        .await?;
    let n = if quick { 30 } else { 1000 };
    eprintln!("[team] streamed with limits, a budget and the ledger: personal vs team ×{n}");
    let personal = via_target(
        Kind::Streamed,
        &procs,
        "/v1/messages",
        workload::claude_code_request(),
    )?;
    let team = team_target(&server.url, &bench_key, workload::claude_code_request())?;
    latency.push(
        pairs(
            &client,
            "streamed + limits, budget, ledger",
            &personal,
            &team,
            n,
        )
        .await?,
    );
    drop(server);

    eprintln!("[team] revocation propagation");
    let propagation = propagation(&procs, &client)
        .await
        .map_err(|e| format!("{e:#}"));
    Ok(TeamRun {
        quick,
        keys,
        create_secs,
        rss_empty_kb,
        rss_keys_kb,
        ready_empty,
        ready_keys,
        latency,
        propagation,
        load_before,
        load_after: stats::load_avg(),
        elapsed: began.elapsed(),
    })
}

/// `n` keys, 8 creations at a time; the id and secret of the first.
async fn make_keys(
    client: &reqwest::Client,
    server: &TeamServer,
    token: &str,
    n: usize,
) -> anyhow::Result<(String, String)> {
    let first = server.create_key(client, token, "bench-0").await?;
    let mut next = 1;
    while next < n {
        let batch: Vec<_> = (next..n.min(next + 8))
            .map(|i| async move {
                server
                    .create_key(client, token, &format!("bench-{i}"))
                    .await
            })
            .collect();
        next += batch.len();
        for r in futures::future::join_all(batch).await {
            r?;
        }
    }
    Ok(first)
}

async fn pairs(
    client: &reqwest::Client,
    workload: &'static str,
    personal: &Target,
    team: &Target,
    n: usize,
) -> anyhow::Result<Pairs> {
    for _ in 0..(n / 10).max(5) {
        load::call(client, personal).await?;
        load::call(client, team).await?;
    }
    let (mut p, mut t, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (a, b) = if i % 2 == 0 {
            let a = load::call(client, personal).await?.total;
            (a, load::call(client, team).await?.total)
        } else {
            let b = load::call(client, team).await?.total;
            (load::call(client, personal).await?.total, b)
        };
        diff.push((b.as_secs_f64() - a.as_secs_f64()) * 1e6);
        p.push(a);
        t.push(b);
    }
    diff.sort_by(f64::total_cmp);
    Ok(Pairs {
        workload,
        n,
        personal: Percentiles::of(&mut p),
        team: Percentiles::of(&mut t),
        paired_median_us: diff.get(diff.len() / 2).copied().unwrap_or(f64::NAN),
    })
}

fn team_target(url: &str, key: &str, body: Vec<u8>) -> anyhow::Result<Target> {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("x-api-key", HeaderValue::from_str(key)?);
    h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    Ok(Target {
        name: "conduit --team",
        url: format!("{url}/v1/messages"),
        headers: h,
        body: body.into(),
    })
}

/// Three instances on a fresh Postgres database; 20 keys revoked in turn on each instance, the
/// other two polled every millisecond from the revoke's answer until they refuse the key.
async fn propagation(procs: &Procs, client: &reqwest::Client) -> anyhow::Result<Propagation> {
    let server = pg_server_url();
    let db = PgDb::create(&server).with_context(|| format!("no Postgres at {server}"))?;
    let mut trio = Vec::new();
    for i in 0..3 {
        let home = procs.dir().join(format!("team-pg-{i}"));
        trio.push(TeamServer::start(procs, &home, Some(&db.url)).await?);
    }
    let mut tokens = Vec::new();
    for s in &trio {
        tokens.push(s.login(client).await?);
    }
    let mut keys = Vec::new();
    for i in 0..REVOCATIONS {
        keys.push(
            trio[0]
                .create_key(client, &tokens[0], &format!("prop-{i}"))
                .await?,
        );
    }
    for (_, key) in &keys {
        for s in &trio {
            until_status(client, s, key, 200).await?;
        }
    }
    let mut samples = Vec::new();
    for (i, (id, key)) in keys.iter().enumerate() {
        let r = i % 3;
        trio[r].revoke(client, &tokens[r], id).await?;
        let t0 = Instant::now();
        let polls = trio
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != r)
            .map(|(_, s)| async move {
                until_status(client, s, key, 401)
                    .await
                    .map(|_| t0.elapsed())
            });
        for d in futures::future::join_all(polls).await {
            samples.push(d?);
        }
    }
    let p = Percentiles::of(&mut samples.clone());
    Ok(Propagation {
        revocations: REVOCATIONS,
        samples,
        p50: p.p50,
        max: p.max,
    })
}

async fn until_status(
    client: &reqwest::Client,
    s: &TeamServer,
    key: &str,
    want: u16,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.status(client, key).await? != want {
        if Instant::now() > deadline {
            anyhow::bail!("{} did not answer {want} within 10 s", s.url);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
