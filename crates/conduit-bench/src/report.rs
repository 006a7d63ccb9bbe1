//! The results of a run as JSON and as a markdown table, with the status against each target.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::load::{Latency, Saturation};
use crate::stats::{ms, Percentiles};
use crate::streams::{Burst, OpenStreams};
use crate::{Kind, ScenarioResult};

pub struct Run {
    pub quick: bool,
    pub fd_limit: u64,
    pub load_before: f64,
    pub load_after: f64,
    pub idle_rss_kb: u64,
    /// After all scenarios (the heap keeps what the busiest moment needed).
    pub busy_rss_kb: u64,
    pub scenarios: Vec<ScenarioResult>,
    pub streams: Option<OpenStreams>,
    /// 100 concurrent Claude-Code-sized streams.
    pub burst: Option<Burst>,
    /// Sorted cold-start times.
    pub cold: Vec<Duration>,
    pub elapsed: Duration,
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn pct_json(p: &Percentiles) -> Value {
    let mut m = serde_json::Map::new();
    for (name, d) in p.named() {
        m.insert(format!("{name}_ms"), json!(ms(d)));
    }
    Value::Object(m)
}

fn added_json(d: &Percentiles, v: &Percentiles) -> Value {
    let mut m = serde_json::Map::new();
    for ((name, a), (_, b)) in d.named().into_iter().zip(v.named()) {
        m.insert(format!("{name}_ms"), json!(ms(b) - ms(a)));
    }
    Value::Object(m)
}

fn latency_json((d, v): &(Latency, Latency)) -> Value {
    json!({
        "requests": {"direct": d.n, "conduit": v.n},
        "errors": {"direct": d.errors, "conduit": v.errors},
        "rate_rps": {"direct": d.rate, "conduit": v.rate},
        "response_bytes": {"direct": d.bytes, "conduit": v.bytes},
        "total": {"direct": pct_json(&d.total), "conduit": pct_json(&v.total),
                  "added": added_json(&d.total, &v.total),
                  "ratio_p50": ms(v.total.p50) / ms(d.total.p50).max(1e-9)},
        "first_byte": {"direct": pct_json(&d.ttfb), "conduit": pct_json(&v.ttfb),
                       "added": added_json(&d.ttfb, &v.ttfb)},
    })
}

fn saturation_json(s: &Saturation) -> Value {
    let cpu: serde_json::Map<String, Value> = s
        .cpu_ms_per_req
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({"clients": s.clients, "requests": s.requests, "errors": s.errors, "secs": s.secs,
           "rps": s.rps, "cpu_ms_per_request": cpu})
}

fn cpu_of(s: &Saturation, who: &str) -> f64 {
    s.cpu_ms_per_req
        .iter()
        .find(|(k, _)| k == who)
        .map_or(f64::NAN, |(_, v)| *v)
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Streamed => {
            "streamed Claude-Code-sized (Anthropic Messages, 12 tools, 200 text events back)"
        }
        Kind::Small => "small non-streaming (Anthropic Messages, one short text event back)",
        Kind::OpenAi => "OpenAI Chat streaming (4 tools, 200 text events back)",
        Kind::Bedrock => {
            "Bedrock streamed Claude-Code-sized (Anthropic Messages to the Bedrock runtime, 200 text events back)"
        }
    }
}

impl Run {
    fn cold_median(&self) -> Option<Duration> {
        self.cold.get(self.cold.len() / 2).copied()
    }

    pub fn json(&self) -> Value {
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|s| {
                json!({
                    "scenario": s.kind.name(),
                    "description": describe(s.kind),
                    "request_bytes": s.request_bytes,
                    "kiro_request_bytes": s.kiro_request_bytes,
                    "sequential": latency_json(&s.sequential),
                    "fixed_rate": s.fixed.iter().map(|(rate, l)| json!({"target_rps": rate,
                        "latency": latency_json(l)})).collect::<Vec<_>>(),
                    "saturation": {"direct": saturation_json(&s.saturation.0),
                                   "conduit": saturation_json(&s.saturation.1)},
                })
            })
            .collect();
        json!({
            "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
                        "load_avg_1m_before": self.load_before, "load_avg_1m_after": self.load_after,
                        "fd_limit": self.fd_limit},
            "quick": self.quick,
            "elapsed_secs": self.elapsed.as_secs_f64(),
            "scenarios": scenarios,
            "memory": {
                "idle_rss_kb": self.idle_rss_kb,
                "after_scenarios_rss_kb": self.busy_rss_kb,
                "open_streams": self.streams.as_ref().map(|o| json!({
                    "streams": o.streams, "open_secs": o.open_secs,
                    "conduit_rss_kb": o.conduit_rss_kb, "simulator_rss_kb": o.sim_rss_kb,
                    "conduit_rss_after_release_kb": o.conduit_rss_after_kb})),
                "burst": self.burst.as_ref().map(|b| json!({
                    "streams": b.streams, "secs": b.secs,
                    "rss_before_kb": b.rss_before_kb, "rss_peak_kb": b.rss_peak_kb,
                    "rss_end_kb": b.rss_end_kb, "rss_1s_after_kb": b.rss_after_kb})),
            },
            "cold_start_ms": {"runs": self.cold.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                              "median": self.cold_median().map(ms)},
        })
    }

    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(
            o,
            "## conduit benchmark{}\n\n{cores} cores, 1-minute load average {:.2} before, {:.2} after; run took {:.0} s.\n",
            if self.quick { " (quick)" } else { "" },
            self.load_before,
            self.load_after,
            self.elapsed.as_secs_f64()
        );
        for s in &self.scenarios {
            self.scenario_md(&mut o, s);
        }
        self.memory_md(&mut o);
        self.targets_md(&mut o);
        o
    }

    fn scenario_md(&self, o: &mut String, s: &ScenarioResult) {
        let (sd, sv) = &s.sequential;
        let _ = writeln!(
            o,
            "### {}\n\nRequest {} B to conduit ({} B as the {} request), response {} B from the simulator, {} B of SSE/JSON from conduit.\n",
            describe(s.kind), s.request_bytes, s.kiro_request_bytes,
            if s.kind == Kind::Bedrock { "InvokeModel" } else { "Kiro" }, sd.bytes, sv.bytes
        );
        let _ = writeln!(
            o,
            "| whole response, ms | | p50 | p90 | p99 | p99.9 | max | first byte p50 |\n|---|---|---|---|---|---|---|---|"
        );
        let mut shapes = vec![(format!("sequential ({})", sd.n), &s.sequential)];
        for (rate, l) in &s.fixed {
            shapes.push((
                format!(
                    "open loop {rate:.0} rps ({} + {} calls, errors {} / {})",
                    l.0.n + l.0.errors,
                    l.1.n + l.1.errors,
                    l.0.errors,
                    l.1.errors
                ),
                l,
            ));
        }
        for (shape, (d, v)) in shapes {
            let row = |o: &mut String, side: &str, f: &dyn Fn(Duration, Duration) -> f64| {
                let _ = write!(o, "| {shape} | {side} |");
                for ((_, a), (_, b)) in d.total.named().into_iter().zip(v.total.named()) {
                    let _ = write!(o, " {:.3} |", f(a, b));
                }
                let _ = writeln!(o, " {:.3} |", f(d.ttfb.p50, v.ttfb.p50));
            };
            row(o, "direct", &|a, _| ms(a));
            row(o, "conduit", &|_, b| ms(b));
            row(o, "**added**", &|a, b| ms(b) - ms(a));
        }
        let (a, b) = &s.saturation;
        let _ = writeln!(
            o,
            "\nRatio to a direct call (p50, sequential): {:.2}×.\n\
             Saturation ({} closed-loop clients, {:.0} s each): direct **{:.0} rps**, through conduit **{:.0} rps** (errors {} / {}).\n\
             CPU per request: conduit **{:.3} ms**; simulator {:.3} ms direct, {:.3} ms behind conduit; load generator {:.3} ms direct, {:.3} ms through conduit.\n",
            ms(sv.total.p50) / ms(sd.total.p50).max(1e-9),
            a.clients, a.secs, a.rps, b.rps, a.errors, b.errors,
            cpu_of(b, "conduit"), cpu_of(a, "simulator"), cpu_of(b, "simulator"),
            cpu_of(a, "bench"), cpu_of(b, "bench"),
        );
    }

    fn memory_md(&self, o: &mut String) {
        let _ = writeln!(o, "### memory and start\n\n| figure | value |\n|---|---|");
        let _ = writeln!(
            o,
            "| conduit RSS, idle after start | {:.1} MB |",
            mb(self.idle_rss_kb)
        );
        let _ = writeln!(
            o,
            "| conduit RSS after the scenarios | {:.1} MB |",
            mb(self.busy_rss_kb)
        );
        if let Some(s) = &self.streams {
            let _ = writeln!(
                o,
                "| conduit RSS, {} open streams | {:.1} MB (simulator {:.1} MB; all open after {:.2} s) |\n| conduit RSS, 1 s after they closed | {:.1} MB |",
                s.streams, mb(s.conduit_rss_kb), mb(s.sim_rss_kb), s.open_secs, mb(s.conduit_rss_after_kb)
            );
        }
        if let Some(b) = &self.burst {
            let _ = writeln!(
                o,
                "| conduit RSS before {n} concurrent Claude-Code-sized streams (after one request: tokenizer loaded) | {:.1} MB |\n\
                 | · at the burst's peak (sampled every 2 ms; all {n} done in {:.2} s) | {:.1} MB |\n\
                 | · when the last stream ended | {:.1} MB |\n\
                 | · 1 s later | {:.1} MB |",
                mb(b.rss_before_kb), b.secs, mb(b.rss_peak_kb), mb(b.rss_end_kb), mb(b.rss_after_kb),
                n = b.streams,
            );
        }
        if let Some(m) = self.cold_median() {
            let (lo, hi) = (self.cold[0], self.cold[self.cold.len() - 1]);
            let _ = writeln!(
                o,
                "| cold start to first 200 on /health | {:.1} ms median of {} (min {:.1}, max {:.1}) |",
                ms(m), self.cold.len(), ms(lo), ms(hi)
            );
        }
        o.push('\n');
    }

    fn targets_md(&self, o: &mut String) {
        let mut rows: Vec<(String, String, bool)> = Vec::new();
        let find = |k: Kind| self.scenarios.iter().find(|s| s.kind == k);
        if let Some(s) = find(Kind::Streamed) {
            let (d, v) = (&s.sequential.0.total, &s.sequential.1.total);
            let p50 = ms(v.p50) - ms(d.p50);
            let p99 = ms(v.p99) - ms(d.p99);
            rows.push((
                "streamed added p50, sequential ≤ 0.5 ms".into(),
                format!("{p50:.3} ms"),
                p50 <= 0.5,
            ));
            rows.push((
                "streamed added p99, sequential ≤ 2 ms".into(),
                format!("{p99:.3} ms"),
                p99 <= 2.0,
            ));
            if let Some((rate, (d, v))) = s.fixed.first() {
                let p50 = ms(v.total.p50) - ms(d.total.p50);
                rows.push((
                    format!("streamed added p50 @{rate:.0} rps ≤ 1 ms"),
                    format!("{p50:.3} ms"),
                    p50 <= 1.0,
                ));
            }
            let rps = s.saturation.1.rps;
            rows.push((
                "streamed saturation ≥ 1,000 rps (2 cores, shared with the simulator and the load generator)".into(),
                format!("{rps:.0} rps"),
                rps >= 1000.0,
            ));
            let cpu = cpu_of(&s.saturation.1, "conduit");
            rows.push((
                "conduit CPU per streamed request ≤ 1.5 ms".into(),
                format!("{cpu:.3} ms"),
                cpu <= 1.5,
            ));
        }
        if let Some(s) = find(Kind::Small) {
            let rps = s.saturation.1.rps;
            rows.push((
                "small non-streaming ≥ 5,000 rps".into(),
                format!("{rps:.0} rps"),
                rps >= 5000.0,
            ));
        }
        rows.push((
            "RSS idle ≤ 15 MB".into(),
            format!("{:.1} MB", mb(self.idle_rss_kb)),
            mb(self.idle_rss_kb) <= 15.0,
        ));
        if let Some(s) = &self.streams {
            rows.push((
                format!(
                    "RSS at {} streams ≤ 100 MB (target is for 1,000)",
                    s.streams
                ),
                format!("{:.1} MB", mb(s.conduit_rss_kb)),
                mb(s.conduit_rss_kb) <= 100.0,
            ));
        }
        if let Some(b) = &self.burst {
            rows.push((
                format!(
                    "RSS after {} concurrent CC-sized streams ≤ 50 MB",
                    b.streams
                ),
                format!(
                    "{:.1} MB (peak {:.1} MB)",
                    mb(b.rss_end_kb),
                    mb(b.rss_peak_kb)
                ),
                mb(b.rss_end_kb) <= 50.0,
            ));
            let back = b.rss_after_kb as f64 / b.rss_before_kb.max(1) as f64;
            rows.push((
                "RSS 1 s after the burst within 20 % of before it".into(),
                format!(
                    "{:.1} MB, {:+.0} %",
                    mb(b.rss_after_kb),
                    (back - 1.0) * 100.0
                ),
                back <= 1.2,
            ));
        }
        if let Some(m) = self.cold_median() {
            rows.push((
                "cold start ≤ 50 ms".into(),
                format!("{:.1} ms", ms(m)),
                ms(m) <= 50.0,
            ));
        }
        let _ = writeln!(
            o,
            "### against the targets\n\n| target | this run | met |\n|---|---|---|"
        );
        for (t, v, ok) in rows {
            let _ = writeln!(o, "| {t} | {v} | {} |", if ok { "yes" } else { "**no**" });
        }
    }
}
