//! `cargo run --release -p conduit-bench`: starts `conduit-sim` and `conduit` (release binaries
//! beside this one), drives the same streamed, Claude-Code-sized request directly at the
//! simulator and through conduit, and reports the latency conduit adds and its memory.
//! Reports only; nothing here asserts a target.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod procs;
mod workload;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;

use procs::Procs;

const WARMUP: usize = 30;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let procs = Procs::start().await?;
    let idle_rss_kb = procs.conduit_rss_kb()?;
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;

    let anthropic_body = workload::claude_code_request();
    let kiro_body = workload::kiro_request(&anthropic_body)?;
    procs.add_bench_rule(&client).await?;

    let direct = |c: reqwest::Client, body: Vec<u8>, url: String, token: String| async move {
        let t = Instant::now();
        let resp = c
            .post(url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "direct call failed: {} {}",
                resp.status(),
                resp.text().await?
            );
        }
        let bytes = drain(resp).await?;
        Ok::<_, anyhow::Error>((t.elapsed(), bytes))
    };
    let via = |c: reqwest::Client, body: Vec<u8>, url: String, key: String| async move {
        let t = Instant::now();
        let resp = c
            .post(url)
            .header("content-type", "application/json")
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .body(body)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "conduit call failed: {} {}",
                resp.status(),
                resp.text().await?
            );
        }
        let bytes = drain(resp).await?;
        Ok::<_, anyhow::Error>((t.elapsed(), bytes))
    };

    let direct_url = format!("{}/generateAssistantResponse", procs.sim_url);
    let via_url = format!("{}/v1/messages", procs.conduit_url);
    let mut d = Vec::with_capacity(iterations);
    let mut v = Vec::with_capacity(iterations);
    let mut sse_bytes = 0;
    for i in 0..WARMUP + iterations {
        // Alternate so drift in machine load hits both sides alike.
        let (dt, _) = direct(
            client.clone(),
            kiro_body.clone(),
            direct_url.clone(),
            procs.access_token.clone(),
        )
        .await?;
        let (vt, n) = via(
            client.clone(),
            anthropic_body.clone(),
            via_url.clone(),
            procs.api_key.clone(),
        )
        .await?;
        if i >= WARMUP {
            d.push(dt);
            v.push(vt);
            sse_bytes = n;
        }
    }
    let busy_rss_kb = procs.conduit_rss_kb()?;
    let events = procs
        .sse_event_count(&client, &via_url, &anthropic_body)
        .await?;

    let report = Report {
        iterations,
        request_bytes: anthropic_body.len(),
        sse_events: events,
        sse_bytes,
        direct: Percentiles::of(&mut d),
        via: Percentiles::of(&mut v),
        idle_rss_kb,
        busy_rss_kb,
    };
    report.print();
    let out = std::path::Path::new("bench-results");
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("streamed.json"), report.json().to_string())
        .context("cannot write bench-results/streamed.json")?;
    Ok(())
}

async fn drain(resp: reqwest::Response) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut s = resp.bytes_stream();
    while let Some(chunk) = s.next().await {
        n += chunk?.len();
    }
    Ok(n)
}

struct Percentiles {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

impl Percentiles {
    fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

struct Report {
    iterations: usize,
    request_bytes: usize,
    sse_events: usize,
    sse_bytes: usize,
    direct: Percentiles,
    via: Percentiles,
    idle_rss_kb: u64,
    busy_rss_kb: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Report {
    fn rows(&self) -> Vec<(&'static str, Duration, Duration)> {
        vec![
            ("p50", self.direct.p50, self.via.p50),
            ("p90", self.direct.p90, self.via.p90),
            ("p99", self.direct.p99, self.via.p99),
            ("max", self.direct.max, self.via.max),
        ]
    }

    fn print(&self) {
        println!(
            "streamed Claude-Code-sized request: {} bytes in, {} SSE events ({} bytes) out, {} iterations",
            self.request_bytes, self.sse_events, self.sse_bytes, self.iterations
        );
        println!(
            "| percentile | direct to simulator (ms) | through conduit (ms) | added (ms) | ratio |"
        );
        println!("|---|---|---|---|---|");
        for (name, d, v) in self.rows() {
            println!(
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
                ms(d),
                ms(v),
                ms(v) - ms(d),
                ms(v) / ms(d).max(1e-9)
            );
        }
        println!(
            "conduit RSS: idle {:.1} MB, after the run {:.1} MB",
            self.idle_rss_kb as f64 / 1024.0,
            self.busy_rss_kb as f64 / 1024.0
        );
    }

    fn json(&self) -> serde_json::Value {
        let rows: Vec<_> = self
            .rows()
            .into_iter()
            .map(|(name, d, v)| {
                serde_json::json!({"percentile": name, "direct_ms": ms(d), "conduit_ms": ms(v),
                    "added_ms": ms(v) - ms(d), "ratio": ms(v) / ms(d).max(1e-9)})
            })
            .collect();
        serde_json::json!({
            "scenario": "streamed_claude_code",
            "iterations": self.iterations,
            "request_bytes": self.request_bytes,
            "sse_events": self.sse_events,
            "latency": rows,
            "idle_rss_kb": self.idle_rss_kb,
            "busy_rss_kb": self.busy_rss_kb,
        })
    }
}
