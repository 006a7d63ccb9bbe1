//! `cargo run --release -p conduit-bench [-- --scenario streamed|small|openai|memory|team|spend|all] [--quick]`:
//! starts `conduit-sim` and `conduit` (release binaries beside this one, built first under
//! `cargo run`), drives each scenario at the same load directly at the simulator and through
//! conduit, and reports the latency conduit adds, throughput at saturation, CPU per request,
//! memory idle and with many open streams, and cold start; `team` compares team mode with
//! personal mode (`team.rs`). Writes `bench-results/latest.json` and `bench-results/latest.md`
//! (`team.json`/`team.md` for `team`). Reports only; nothing here asserts a target.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod load;
mod procs;
mod report;
mod spend;
mod stats;
mod streams;
mod team;
mod team_procs;
mod team_report;
mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

use load::Target;
use procs::Procs;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Streamed,
    Small,
    OpenAi,
    /// The streamed request to the simulator's Bedrock runtime (the Messages lane).
    Bedrock,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Streamed => "streamed",
            Kind::Small => "small",
            Kind::OpenAi => "openai",
            Kind::Bedrock => "bedrock",
        }
    }
}

struct Options {
    kinds: Vec<Kind>,
    quick: bool,
    soak: Option<u64>,
    /// `--calls N`: N sequential streamed calls through conduit, then exit (instruction counts).
    calls: Option<usize>,
    extras: bool,
    team: bool,
    /// `--scenario spend`: in process, no servers.
    spend: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        kinds: vec![Kind::Streamed, Kind::Small, Kind::OpenAi, Kind::Bedrock],
        quick: false,
        soak: None,
        calls: None,
        extras: true,
        team: false,
        spend: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--scenario" => {
                let v = args.next().context("--scenario needs a value")?;
                (o.kinds, o.extras) = match v.as_str() {
                    "streamed" => (vec![Kind::Streamed], false),
                    "small" => (vec![Kind::Small], false),
                    "openai" => (vec![Kind::OpenAi], false),
                    "bedrock" => (vec![Kind::Bedrock], false),
                    "memory" => (vec![], true),
                    "team" => {
                        o.team = true;
                        (vec![], false)
                    }
                    "spend" => {
                        o.spend = true;
                        (vec![], false)
                    }
                    "all" => (o.kinds, true),
                    other => {
                        bail!(
                            "unknown scenario `{other}`: streamed, small, openai, bedrock, \
                             memory, team, spend or all"
                        )
                    }
                };
            }
            "--soak" => {
                let v = args.next().context("--soak needs seconds")?;
                o.soak = Some(v.parse().context("--soak needs whole seconds")?);
            }
            "--calls" => {
                let v = args.next().context("--calls needs a count")?;
                o.calls = Some(v.parse().context("--calls needs a whole number")?);
            }
            "-h" | "--help" => {
                println!(
                    "conduit-bench [--scenario streamed|small|openai|bedrock|memory|team|spend|all] [--quick] [--soak SECS]\n\
                     memory: only the open streams and cold start\n\
                     spend: team mode's budget check, rate-limit admission and ledger row per request, in process\n\
                     team: team mode vs personal mode (added latency, RSS with 10,000 keys, \
                     revocation propagation on Postgres)\n\
                     --soak SECS: only drive the streamed scenario through conduit for SECS \
                     (attach a profiler to the printed pid)\n\
                     --calls N: only make N sequential streamed calls through conduit (two runs \
                     under callgrind, N apart, give instructions per request)"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (try --help)"),
        }
    }
    Ok(o)
}

/// How hard and how long one scenario is driven.
pub struct Plan {
    pub warmup: usize,
    pub sequential: usize,
    /// Open-loop runs: (requests per second, requests).
    pub rates: Vec<(f64, usize)>,
    pub clients: usize,
    pub saturate_for: Duration,
}

fn plan(kind: Kind, quick: bool) -> Plan {
    // The target rate, and for the streamed scenarios also a rate this shared 2-core machine
    // sustains, so the added latency below saturation is visible too.
    let (rates, clients): (Vec<(f64, usize)>, usize) = match kind {
        Kind::Small => (vec![(1000.0, 5000)], 64),
        Kind::Streamed | Kind::Bedrock => (vec![(300.0, 1500), (100.0, 1000)], 32),
        Kind::OpenAi => (vec![(300.0, 1500), (100.0, 1000)], 32),
    };
    if quick {
        return Plan {
            warmup: 5,
            sequential: 20,
            rates: rates
                .into_iter()
                .map(|(r, _)| (r, (r / 4.0) as usize))
                .collect(),
            clients,
            saturate_for: Duration::from_millis(700),
        };
    }
    Plan {
        warmup: 30,
        sequential: 300,
        rates,
        clients,
        saturate_for: Duration::from_secs(8),
    }
}

/// The direct and through-conduit targets of a scenario.
fn targets(kind: Kind, procs: &Procs) -> anyhow::Result<(Target, Target)> {
    let (client_body, kiro_body, path) = match kind {
        Kind::Streamed => {
            let b = workload::claude_code_request();
            let k = workload::kiro_request(&b)?;
            (b, k, "/v1/messages")
        }
        Kind::Small => {
            let b = workload::small_request();
            let k = workload::kiro_request(&b)?;
            (b, k, "/v1/messages")
        }
        Kind::OpenAi => {
            let b = workload::openai_chat_request();
            let k = workload::kiro_request_from_openai(&b)?;
            (b, k, "/v1/chat/completions")
        }
        Kind::Bedrock => {
            let b = workload::bedrock_client_request();
            let direct = bedrock_direct(procs, workload::invoke_model_body(&b)?)?;
            return Ok((direct, via_target(kind, procs, "/v1/messages", b)?));
        }
    };
    let mut dh = HeaderMap::new();
    dh.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    dh.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", procs.access_token))?,
    );
    let direct = Target {
        name: "simulator",
        url: format!("{}/generateAssistantResponse", procs.sim_url),
        headers: dh,
        body: Bytes::from(kiro_body),
    };
    Ok((direct, via_target(kind, procs, path, client_body)?))
}

/// The simulator's Bedrock runtime with the InvokeModel body conduit sends, authorised with the
/// Bedrock API key conduit also uses (no signing on either side, so both pay the same).
fn bedrock_direct(procs: &Procs, body: Vec<u8>) -> anyhow::Result<Target> {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", procs::BEDROCK_API_KEY))?,
    );
    Ok(Target {
        name: "simulator",
        url: format!(
            "{}/region/us-east-1/model/{}/invoke-with-response-stream",
            procs.sim_url,
            workload::BEDROCK_MODEL_ID
        ),
        headers: h,
        body: Bytes::from(body),
    })
}

fn via_target(kind: Kind, procs: &Procs, path: &str, body: Vec<u8>) -> anyhow::Result<Target> {
    let mut vh = HeaderMap::new();
    vh.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if kind == Kind::OpenAi {
        vh.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", procs.api_key))?,
        );
    } else {
        vh.insert("x-api-key", HeaderValue::from_str(&procs.api_key)?);
        vh.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    }
    Ok(Target {
        name: "conduit",
        url: format!("{}{path}", procs.conduit_url),
        headers: vh,
        body: Bytes::from(body),
    })
}

/// Everything measured for one scenario.
pub struct ScenarioResult {
    pub kind: Kind,
    pub request_bytes: usize,
    pub kiro_request_bytes: usize,
    pub plan: Plan,
    pub sequential: (load::Latency, load::Latency),
    /// Per open-loop rate: (rate, (direct, conduit)).
    pub fixed: Vec<(f64, (load::Latency, load::Latency))>,
    pub saturation: (load::Saturation, load::Saturation),
}

async fn scenario(
    client: &reqwest::Client,
    procs: &Procs,
    kind: Kind,
    quick: bool,
) -> anyhow::Result<ScenarioResult> {
    let plan = plan(kind, quick);
    let (direct, via) = targets(kind, procs)?;
    let (request_bytes, kiro_request_bytes) = (via.body.len(), direct.body.len());
    eprintln!("[{}] sequential ×{}", kind.name(), plan.sequential);
    let sequential = load::sequential(client, &direct, &via, plan.warmup, plan.sequential).await?;
    let (direct, via) = (Arc::new(direct), Arc::new(via));
    let mut fixed = Vec::new();
    for &(rate, n) in &plan.rates {
        let cap = Duration::from_secs_f64(n as f64 / rate + 1.0);
        eprintln!("[{}] open loop {rate} rps ×{n}", kind.name());
        let fd = load::open_loop(client, direct.clone(), rate, n, cap).await?;
        let fv = load::open_loop(client, via.clone(), rate, n, cap).await?;
        fixed.push((rate, (fd, fv)));
        // Let an overloaded run drain before the next measurement.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("[{}] saturation, {} clients", kind.name(), plan.clients);
    let sim = ("simulator", procs.sim_pid());
    let conduit = ("conduit", procs.conduit_pid());
    let sd = load::saturate(client, direct, plan.clients, plan.saturate_for, &[sim]).await?;
    let sv = load::saturate(
        client,
        via,
        plan.clients,
        plan.saturate_for,
        &[conduit, sim],
    )
    .await?;
    Ok(ScenarioResult {
        kind,
        request_bytes,
        kiro_request_bytes,
        plan,
        sequential,
        fixed,
        saturation: (sd, sv),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let began = Instant::now();
    let fd_limit = stats::raise_fd_limit();
    if opts.spend {
        let run = spend::run(opts.quick).await?;
        let md = run.markdown();
        println!("{md}");
        let json = serde_json::json!({
            "n": run.n,
            "metered_p50_us": run.metered.p50.as_secs_f64() * 1e6,
            "metered_p99_us": run.metered.p99.as_secs_f64() * 1e6,
            "unlimited_p50_us": run.unlimited.p50.as_secs_f64() * 1e6,
            "unlimited_p99_us": run.unlimited.p99.as_secs_f64() * 1e6,
            "rows_written": run.rows_written,
        });
        return write_results("spend", &json, &md);
    }
    procs::build_servers()?;
    if opts.team {
        let run = team::run(opts.quick).await?;
        let md = run.markdown();
        println!("{md}");
        return write_results("team", &run.json(), &md);
    }
    let load_before = stats::load_avg();
    let procs = Procs::start().await?;
    eprintln!(
        "conduit pid {} at {}, simulator pid {} at {}",
        procs.conduit_pid(),
        procs.conduit_url,
        procs.sim_pid(),
        procs.sim_url
    );
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(2048)
        .build()?;
    let idle_rss_kb = stats::rss_kb(procs.conduit_pid())?;
    if let Some(n) = opts.calls {
        let (_, via) = targets(Kind::Streamed, &procs)?;
        for _ in 0..n {
            load::call(&client, &via).await?;
        }
        println!(
            "calls: {n} streamed requests through conduit pid {}",
            procs.conduit_pid()
        );
        return Ok(());
    }
    if let Some(secs) = opts.soak {
        let (_, via) = targets(Kind::Streamed, &procs)?;
        let watch = [("conduit", procs.conduit_pid())];
        let s =
            load::saturate(&client, Arc::new(via), 8, Duration::from_secs(secs), &watch).await?;
        println!(
            "soak: {} requests in {:.1} s ({:.0} rps), conduit {:.3} ms CPU per request",
            s.requests, s.secs, s.rps, s.cpu_ms_per_req[0].1
        );
        return Ok(());
    }
    // Memory first, before load has grown the heap: the burst of Claude-Code-sized streams,
    // then the open streams.
    let mut burst = None;
    if opts.extras {
        eprintln!("[memory] 100 concurrent Claude-Code-sized streams");
        let (_, via) = targets(Kind::Streamed, &procs)?;
        burst = Some(streams::burst(&client, Arc::new(via), 100, procs.conduit_pid()).await?);
    }
    let mut streams = None;
    if opts.extras {
        let n = if opts.quick { 100 } else { 1000 };
        eprintln!("[memory] {n} open streams");
        let hold = via_target(
            Kind::Streamed,
            &procs,
            "/v1/messages",
            workload::hold_request(),
        )?;
        let (cp, sp) = (procs.conduit_pid(), procs.sim_pid());
        streams = Some(streams::hold(&client, Arc::new(hold), n, cp, sp).await?);
    }
    let mut scenarios = Vec::new();
    for kind in &opts.kinds {
        scenarios.push(scenario(&client, &procs, *kind, opts.quick).await?);
    }
    let busy_rss_kb = stats::rss_kb(procs.conduit_pid())?;
    let mut cold = Vec::new();
    if opts.extras {
        eprintln!("[cold start]");
        cold = procs.cold_starts(if opts.quick { 3 } else { 9 })?;
    }
    let run = report::Run {
        quick: opts.quick,
        fd_limit,
        load_before,
        load_after: stats::load_avg(),
        idle_rss_kb,
        busy_rss_kb,
        scenarios,
        streams,
        burst,
        cold,
        elapsed: began.elapsed(),
    };
    let md = run.markdown();
    println!("{md}");
    write_results("latest", &run.json(), &md)
}

/// `bench-results/{stem}.json` and `bench-results/{stem}.md`.
fn write_results(stem: &str, json: &serde_json::Value, md: &str) -> anyhow::Result<()> {
    let out = std::path::Path::new("bench-results");
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join(format!("{stem}.json")),
        serde_json::to_string_pretty(json)?,
    )
    .with_context(|| format!("cannot write bench-results/{stem}.json"))?;
    std::fs::write(out.join(format!("{stem}.md")), md)
        .with_context(|| format!("cannot write bench-results/{stem}.md"))?;
    eprintln!("wrote bench-results/{stem}.json and bench-results/{stem}.md");
    Ok(())
}
