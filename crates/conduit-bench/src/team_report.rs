//! The `team` scenario's results as JSON and as markdown.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::stats::ms;
use crate::team::{Pairs, TeamRun};

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

impl Pairs {
    fn added_us(&self) -> (f64, f64) {
        (
            us(self.team.p50) - us(self.personal.p50),
            us(self.team.p90) - us(self.personal.p90),
        )
    }
}

impl TeamRun {
    pub fn json(&self) -> Value {
        let latency: Vec<Value> = self
            .latency
            .iter()
            .map(|l| {
                let (p50, p90) = l.added_us();
                json!({"workload": l.workload, "pairs": l.n,
                       "personal": {"p50_ms": ms(l.personal.p50), "p90_ms": ms(l.personal.p90)},
                       "team": {"p50_ms": ms(l.team.p50), "p90_ms": ms(l.team.p90)},
                       "added_us": {"p50": p50, "p90": p90,
                                    "median_of_pair_differences": l.paired_median_us}})
            })
            .collect();
        let propagation = match &self.propagation {
            Ok(p) => json!({"revocations": p.revocations, "instances": 3,
                            "p50_ms": ms(p.p50), "max_ms": ms(p.max),
                            "samples_ms": p.samples.iter().map(|d| ms(*d)).collect::<Vec<_>>()}),
            Err(why) => json!({"skipped": why}),
        };
        json!({
            "scenario": "team", "quick": self.quick,
            "machine": {"cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
                        "load_avg_1m_before": self.load_before, "load_avg_1m_after": self.load_after},
            "elapsed_secs": self.elapsed.as_secs_f64(),
            "latency": latency,
            "memory": {"keys": self.keys, "create_secs": self.create_secs,
                       "rss_empty_kb": self.rss_empty_kb, "rss_keys_kb": self.rss_keys_kb,
                       "ready_empty_ms": ms(self.ready_empty), "ready_keys_ms": ms(self.ready_keys)},
            "propagation": propagation,
        })
    }

    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(
            o,
            "## conduit benchmark: team mode{}\n\n{cores} cores, 1-minute load average {:.2} before, {:.2} after; run took {:.0} s.\n",
            if self.quick { " (quick)" } else { "" },
            self.load_before,
            self.load_after,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            o,
            "### added latency: team (virtual key, {} keys loaded) vs personal (PROXY_API_KEY)\n\n\
             Same simulator, same request, sequential pairs (the order within a pair alternating).\n\n\
             | workload (pairs) | personal p50 | team p50 | **added p50** | personal p90 | team p90 | added p90 | median of pair differences |\n\
             |---|---|---|---|---|---|---|---|",
            self.keys
        );
        for l in &self.latency {
            let (p50, p90) = l.added_us();
            let _ = writeln!(
                o,
                "| {} ({}) | {:.3} ms | {:.3} ms | **{p50:.0} µs** | {:.3} ms | {:.3} ms | {p90:.0} µs | {:.0} µs |",
                l.workload,
                l.n,
                ms(l.personal.p50),
                ms(l.team.p50),
                ms(l.personal.p90),
                ms(l.team.p90),
                l.paired_median_us
            );
        }
        let per_key = (self.rss_keys_kb.saturating_sub(self.rss_empty_kb) * 1024) as f64
            / self.keys.max(1) as f64;
        let _ = writeln!(
            o,
            "\n### memory and start (SQLite)\n\n| figure | value |\n|---|---|\n\
             | RSS of `serve --team`, empty store, 1 s after ready | {:.1} MB |\n\
             | RSS with {} keys loaded (restart on the same file), 1 s after ready | {:.1} MB ({per_key:.0} B per key) |\n\
             | spawn to `/readyz` 200, empty / {} keys | {:.1} ms / {:.1} ms |\n\
             | {} keys created through `POST /admin/keys` (8 at a time) | {:.1} s ({:.0} per second) |\n",
            mb(self.rss_empty_kb),
            self.keys,
            mb(self.rss_keys_kb),
            self.keys,
            ms(self.ready_empty),
            ms(self.ready_keys),
            self.keys,
            self.create_secs,
            self.keys as f64 / self.create_secs.max(1e-9),
        );
        match &self.propagation {
            Ok(p) => {
                let _ = writeln!(
                    o,
                    "### revocation propagation (3 instances, one Postgres database)\n\n\
                     {} revocations, each on one instance in turn; the other two polled every 1 ms from the \
                     revoke's answer to their first 401 ({} observations): **p50 {:.1} ms, max {:.1} ms**.\n",
                    p.revocations,
                    p.samples.len(),
                    ms(p.p50),
                    ms(p.max)
                );
            }
            Err(why) => {
                let _ = writeln!(o, "### revocation propagation\n\nnot measured: {why}\n");
            }
        }
        o
    }
}
