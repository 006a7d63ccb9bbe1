//! The three load shapes: sequential calls, an open-loop fixed rate, and closed-loop clients
//! at saturation. Every loop is bounded in count and in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::HeaderMap;

use crate::stats::{cpu_ticks, ticks_to_ms, Percentiles};

/// No single call may take longer than this.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// One endpoint with its request: the simulator with the Kiro body, or conduit with the
/// client's body.
pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One completed call: time to the first body chunk, time to the end of the body, body bytes.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub ttfb: Duration,
    pub total: Duration,
    pub bytes: usize,
}

/// Send `target`'s request and read the whole answer.
pub async fn call(client: &reqwest::Client, target: &Target) -> anyhow::Result<Sample> {
    match tokio::time::timeout(CALL_TIMEOUT, call_inner(client, target)).await {
        Ok(r) => r,
        Err(_) => bail!(
            "{}: no complete answer within {CALL_TIMEOUT:?}",
            target.name
        ),
    }
}

async fn call_inner(client: &reqwest::Client, target: &Target) -> anyhow::Result<Sample> {
    let start = Instant::now();
    let resp = client
        .post(&target.url)
        .headers(target.headers.clone())
        .body(target.body.clone())
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "{} answered {}: {}",
            target.name,
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    let mut ttfb = None;
    let mut bytes = 0;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        ttfb.get_or_insert_with(|| start.elapsed());
        bytes += chunk.len();
    }
    let total = start.elapsed();
    Ok(Sample {
        ttfb: ttfb.unwrap_or(total),
        total,
        bytes,
    })
}

/// Latency of a set of calls.
pub struct Latency {
    pub n: usize,
    pub errors: usize,
    pub total: Percentiles,
    pub ttfb: Percentiles,
    pub bytes: usize,
    /// Requests per second actually offered (open loop) or achieved (sequential).
    pub rate: f64,
}

impl Latency {
    fn of(samples: &[Sample], errors: usize, elapsed: Duration) -> Self {
        let mut total: Vec<Duration> = samples.iter().map(|s| s.total).collect();
        let mut ttfb: Vec<Duration> = samples.iter().map(|s| s.ttfb).collect();
        Self {
            n: samples.len(),
            errors,
            total: Percentiles::of(&mut total),
            ttfb: Percentiles::of(&mut ttfb),
            bytes: samples.last().map_or(0, |s| s.bytes),
            rate: samples.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        }
    }
}

/// `warmup` then `n` calls to each target in turn, alternating so drifting machine load hits
/// both alike.
pub async fn sequential(
    client: &reqwest::Client,
    direct: &Target,
    via: &Target,
    warmup: usize,
    n: usize,
) -> anyhow::Result<(Latency, Latency)> {
    for _ in 0..warmup {
        call(client, direct).await?;
        call(client, via).await?;
    }
    let (mut d, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let start = Instant::now();
    for _ in 0..n {
        d.push(call(client, direct).await?);
        v.push(call(client, via).await?);
    }
    let elapsed = start.elapsed() / 2;
    Ok((Latency::of(&d, 0, elapsed), Latency::of(&v, 0, elapsed)))
}

/// Open loop: start call `i` at `i / rate` seconds whatever the previous ones are doing, for
/// `n` calls or `cap`, whichever ends first. Latency is measured from each call's own start.
pub async fn open_loop(
    client: &reqwest::Client,
    target: Arc<Target>,
    rate: f64,
    n: usize,
    cap: Duration,
) -> anyhow::Result<Latency> {
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due - start > cap {
            break;
        }
        tokio::time::sleep_until(due).await;
        let (client, target) = (client.clone(), target.clone());
        tasks.spawn(async move { call(&client, &target).await });
    }
    let offered = start.elapsed();
    let (samples, errors) = gather(tasks, start + cap + CALL_TIMEOUT).await;
    let mut l = Latency::of(&samples, errors, offered);
    l.rate = (samples.len() + errors) as f64 / offered.as_secs_f64().max(1e-9);
    Ok(l)
}

async fn gather(
    mut tasks: tokio::task::JoinSet<anyhow::Result<Sample>>,
    deadline: tokio::time::Instant,
) -> (Vec<Sample>, usize) {
    let mut samples = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok(Ok(s)))) => samples.push(s),
            Ok(Some(_)) => errors += 1,
            Ok(None) => break,
            Err(_) => {
                errors += tasks.len();
                tasks.abort_all();
                break;
            }
        }
    }
    (samples, errors)
}

/// Throughput of closed-loop clients, and the CPU each process spent per request.
pub struct Saturation {
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub secs: f64,
    pub rps: f64,
    /// CPU milliseconds per request of each watched process (server, then the bench itself).
    pub cpu_ms_per_req: Vec<(String, f64)>,
}

/// `clients` tasks each calling `target` back to back for `duration`. `watch` names the
/// processes whose CPU time is measured over the run.
pub async fn saturate(
    client: &reqwest::Client,
    target: Arc<Target>,
    clients: usize,
    duration: Duration,
    watch: &[(&str, u32)],
) -> anyhow::Result<Saturation> {
    let before: Vec<u64> = watch
        .iter()
        .map(|(_, pid)| cpu_ticks(*pid))
        .collect::<anyhow::Result<_>>()?;
    let self_before = cpu_ticks(std::process::id())?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, target) = (client.clone(), target.clone());
        tasks.spawn(async move {
            let (mut ok, mut err) = (0usize, 0usize);
            while Instant::now() < deadline {
                match call(&client, &target).await {
                    Ok(_) => ok += 1,
                    Err(_) => err += 1,
                }
            }
            (ok, err)
        });
    }
    let (mut requests, mut errors) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (ok, err) = r?;
        requests += ok;
        errors += err;
    }
    let secs = start.elapsed().as_secs_f64();
    let per_req = |ticks: u64| ticks_to_ms(ticks) / requests.max(1) as f64;
    let mut cpu_ms_per_req = Vec::new();
    for ((name, pid), b) in watch.iter().zip(before) {
        cpu_ms_per_req.push((name.to_string(), per_req(cpu_ticks(*pid)? - b)));
    }
    cpu_ms_per_req.push((
        "bench".to_string(),
        per_req(cpu_ticks(std::process::id())? - self_before),
    ));
    Ok(Saturation {
        clients,
        requests,
        errors,
        secs,
        rps: requests as f64 / secs,
        cpu_ms_per_req,
    })
}
