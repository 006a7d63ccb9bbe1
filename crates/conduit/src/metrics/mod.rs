//! Prometheus metrics: one process-wide registry, recorded from the request record, the
//! limits and the ledger, and rendered for `GET /metrics` (`routes/metrics.rs`) in the text
//! format 0.0.4.
//!
//! Hand-written rather than the `prometheus` or `prometheus-client` crates: a dozen families
//! with fixed label names need a map of atomics and a page of formatting, while the crates
//! bring dynamic registries and encoders whose generality we would not use. The hot path
//! (one call per request end) costs a label hash and a read-locked lookup per family, then
//! relaxed atomic adds: no allocation once a label set exists, no lock held while anyone
//! else waits except the one-time creation of a new label set. Label sets are bounded: free
//! text becomes `"other"` unless it looks like an identifier ([`labels::bounded`]), and each
//! family keeps at most [`MAX_SERIES`] sets, folding newer ones into `"other"`.
//!
//! Families (all `conduit_`-prefixed, units in the name, counters end in `_total`):
//! `requests_total{path,upstream,model,status}`, `request_duration_seconds{path,upstream}` and
//! `time_to_first_token_seconds{path,upstream}` (histograms), `upstream_errors_total{upstream,
//! kind}`, `tokens_total{upstream,model,type}`, `cost_usd_total{upstream,model}`,
//! `open_streams`, `refusals_total{reason}`, `ledger_rows_written_total`,
//! `ledger_rows_pending`, `ledger_flush_errors_total`.

mod family;
mod histogram;
pub mod labels;
#[cfg(test)]
mod tests;
mod text;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;
use std::time::Duration;

use family::Family;
use histogram::{Histogram, REQUEST_BUCKETS, TTFT_BUCKETS};
pub use labels::error_kind;
use labels::{bounded, OTHER};
use text::Text;
pub use text::CONTENT_TYPE;

/// Distinct label sets kept per family; newer ones fold into `"other"`.
pub const MAX_SERIES: usize = 2_000;

/// The `type` values of `conduit_tokens_total`: the ledger's five disjoint counters.
pub const TOKEN_TYPES: [&str; 5] = [
    "input",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "output",
];

/// The `reason` values of `conduit_refusals_total` (an unknown reason counts as `"other"`).
pub const REFUSAL_REASONS: [&str; 5] = [
    "rate_limit",
    "tokens_per_minute",
    "concurrency",
    "budget",
    "limits_unavailable",
];

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// One request ended: counts it and observes its duration and, if a first byte was sent, its
/// time to first token. `status` 0 (never answered) counts as 499, as in the access log.
pub fn request(
    path: &str,
    upstream: &str,
    model: &str,
    status: u16,
    total: Duration,
    ttft: Option<Duration>,
) {
    REGISTRY.request(path, upstream, model, status, total, ttft);
}

/// An upstream call failed; `kind` is [`error_kind`] of the error.
pub fn upstream_error(upstream: &str, kind: &str) {
    REGISTRY.upstream_error(upstream, kind);
}

/// Tokens of one request by type (one of [`TOKEN_TYPES`]; other names are ignored).
pub fn tokens(upstream: &str, model: &str, counts: &[(&'static str, u64)]) {
    REGISTRY.tokens(upstream, model, counts);
}

/// The cost of one request in nano-dollars (a negative cost is ignored: counters only grow).
pub fn cost(upstream: &str, model: &str, nanos: i64) {
    REGISTRY.cost(upstream, model, nanos);
}

/// A response stream opened: `conduit_open_streams` counts it until the guard is dropped.
pub fn stream_opened() -> StreamGauge {
    REGISTRY.stream_opened()
}

/// A request was refused by a limit or budget; `reason` is one of [`REFUSAL_REASONS`].
pub fn refused(reason: &'static str) {
    REGISTRY.refused(reason);
}

/// The ledger wrote `n` rows.
pub fn ledger_written(n: u64) {
    REGISTRY.ledger_written.fetch_add(n, Relaxed);
}

/// The ledger holds `n` rows not yet written.
pub fn ledger_pending(n: u64) {
    REGISTRY.ledger_pending.store(n, Relaxed);
}

/// A ledger flush failed (its rows are kept for the next one).
pub fn ledger_flush_error() {
    REGISTRY.ledger_flush_errors.fetch_add(1, Relaxed);
}

/// Every metric in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
pub fn render() -> String {
    REGISTRY.render()
}

/// Holds one count in `conduit_open_streams` while alive.
#[must_use = "the stream counts as open only while the gauge is held"]
pub struct StreamGauge(&'static AtomicI64);

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Tokens and cost of one (upstream, model).
#[derive(Default)]
struct ModelSeries {
    tokens: [AtomicU64; 5],
    cost_nanos: AtomicU64,
    /// A cost was recorded: the cost sample exists (an unpriced model shows none, not 0).
    priced: AtomicBool,
}

pub(crate) struct Registry {
    requests: Family<4, AtomicU64>,
    durations: Family<2, Histogram<{ REQUEST_BUCKETS.len() }>>,
    ttft: Family<2, Histogram<{ TTFT_BUCKETS.len() }>>,
    upstream_errors: Family<2, AtomicU64>,
    models: Family<2, ModelSeries>,
    open_streams: AtomicI64,
    /// [`REFUSAL_REASONS`], then `"other"`.
    refusals: [AtomicU64; 6],
    ledger_written: AtomicU64,
    ledger_pending: AtomicU64,
    ledger_flush_errors: AtomicU64,
}

impl Registry {
    pub fn new() -> Self {
        Self::with_cap(MAX_SERIES)
    }

    pub fn with_cap(cap: usize) -> Self {
        Self {
            requests: Family::new(
                ["path", "upstream", "model", "status"],
                cap,
                |[p, _, _, s]| [p, OTHER, OTHER, s],
            ),
            durations: Family::new(["path", "upstream"], cap, |[p, _]| [p, OTHER]),
            ttft: Family::new(["path", "upstream"], cap, |[p, _]| [p, OTHER]),
            upstream_errors: Family::new(["upstream", "kind"], cap, |[_, k]| [OTHER, k]),
            models: Family::new(["upstream", "model"], cap, |_| [OTHER, OTHER]),
            open_streams: AtomicI64::new(0),
            refusals: Default::default(),
            ledger_written: AtomicU64::new(0),
            ledger_pending: AtomicU64::new(0),
            ledger_flush_errors: AtomicU64::new(0),
        }
    }

    pub fn request(
        &self,
        path: &str,
        upstream: &str,
        model: &str,
        status: u16,
        total: Duration,
        ttft: Option<Duration>,
    ) {
        let (path, upstream) = (bounded(path), bounded(upstream));
        let status = labels::Status::new(if status == 0 { 499 } else { status });
        let status = status.as_ref().map_or(OTHER, labels::Status::as_str);
        self.requests
            .with([path, upstream, bounded(model), status], |c| {
                c.fetch_add(1, Relaxed);
            });
        self.durations
            .with([path, upstream], |h| h.observe(&REQUEST_BUCKETS, total));
        if let Some(ttft) = ttft {
            self.ttft
                .with([path, upstream], |h| h.observe(&TTFT_BUCKETS, ttft));
        }
    }

    pub fn upstream_error(&self, upstream: &str, kind: &str) {
        self.upstream_errors
            .with([bounded(upstream), bounded(kind)], |c| {
                c.fetch_add(1, Relaxed);
            });
    }

    pub fn tokens(&self, upstream: &str, model: &str, counts: &[(&'static str, u64)]) {
        self.models.with([bounded(upstream), bounded(model)], |m| {
            for (kind, n) in counts {
                if let Some(i) = TOKEN_TYPES.iter().position(|t| t == kind) {
                    m.tokens[i].fetch_add(*n, Relaxed);
                }
            }
        });
    }

    pub fn cost(&self, upstream: &str, model: &str, nanos: i64) {
        let Ok(nanos) = u64::try_from(nanos) else {
            return;
        };
        self.models.with([bounded(upstream), bounded(model)], |m| {
            m.cost_nanos.fetch_add(nanos, Relaxed);
            m.priced.store(true, Relaxed);
        });
    }

    pub fn stream_opened(&'static self) -> StreamGauge {
        self.open_streams.fetch_add(1, Relaxed);
        StreamGauge(&self.open_streams)
    }

    pub fn refused(&self, reason: &str) {
        let i = REFUSAL_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(REFUSAL_REASONS.len());
        self.refusals[i].fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut t = Text::new();
        self.render_requests(&mut t);
        self.render_models(&mut t);
        self.render_counts(&mut t);
        t.finish()
    }

    fn render_requests(&self, t: &mut Text) {
        let name = "conduit_requests_total";
        t.family(
            name,
            "counter",
            "Requests answered, by route, upstream, client model and HTTP status (499: the \
             client left before the answer ended).",
        );
        for s in self.requests.snapshot() {
            t.sample(
                name,
                &self.requests.names,
                &s.labels,
                None,
                s.value.load(Relaxed),
            );
        }
        histogram(
            t,
            "conduit_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            &self.durations,
            &REQUEST_BUCKETS,
        );
        histogram(
            t,
            "conduit_time_to_first_token_seconds",
            "Time from a request's arrival to the first byte of its answer.",
            &self.ttft,
            &TTFT_BUCKETS,
        );
        let name = "conduit_upstream_errors_total";
        t.family(
            name,
            "counter",
            "Failed upstream calls, by upstream and error kind.",
        );
        for s in self.upstream_errors.snapshot() {
            let names = &self.upstream_errors.names;
            t.sample(name, names, &s.labels, None, s.value.load(Relaxed));
        }
    }

    fn render_models(&self, t: &mut Text) {
        let series = self.models.snapshot();
        let names = &self.models.names;
        let name = "conduit_tokens_total";
        t.family(
            name,
            "counter",
            "Tokens by upstream, client model and type: input, cache_write_5m, cache_write_1h, \
             cache_read (disjoint input counters) and output.",
        );
        for s in &series {
            for (i, kind) in TOKEN_TYPES.iter().enumerate() {
                let n = s.value.tokens[i].load(Relaxed);
                t.sample(name, names, &s.labels, Some(("type", kind)), n);
            }
        }
        let name = "conduit_cost_usd_total";
        t.family(name, "counter", "Cost of priced requests in US dollars.");
        for s in series.iter().filter(|s| s.value.priced.load(Relaxed)) {
            let usd = s.value.cost_nanos.load(Relaxed) as f64 / 1e9;
            t.sample(name, names, &s.labels, None, usd);
        }
    }

    fn render_counts(&self, t: &mut Text) {
        let name = "conduit_open_streams";
        t.family(name, "gauge", "Responses being streamed now.");
        t.sample(name, &[], &[], None, self.open_streams.load(Relaxed));
        let name = "conduit_refusals_total";
        t.family(
            name,
            "counter",
            "Requests refused by a rate limit, token limit, concurrency limit or budget, or \
             because the shared limit counters could not be reached.",
        );
        let reasons = REFUSAL_REASONS.iter().chain([&OTHER]);
        for (reason, n) in reasons.zip(&self.refusals) {
            let n = n.load(Relaxed);
            if *reason != OTHER || n > 0 {
                t.sample(name, &[], &[], Some(("reason", reason)), n);
            }
        }
        let simple = [
            (
                "conduit_ledger_rows_written_total",
                "counter",
                "Usage ledger rows written to the store.",
                &self.ledger_written,
            ),
            (
                "conduit_ledger_rows_pending",
                "gauge",
                "Usage ledger rows buffered, not yet written.",
                &self.ledger_pending,
            ),
            (
                "conduit_ledger_flush_errors_total",
                "counter",
                "Usage ledger flushes that failed (their rows are retried).",
                &self.ledger_flush_errors,
            ),
        ];
        for (name, kind, help, v) in simple {
            t.family(name, kind, help);
            t.sample(name, &[], &[], None, v.load(Relaxed));
        }
    }
}

fn histogram<const B: usize>(
    t: &mut Text,
    name: &str,
    help: &str,
    family: &Family<2, Histogram<B>>,
    bounds: &[f64; B],
) {
    t.family(name, "histogram", help);
    let (bucket, sum, count) = (
        format!("{name}_bucket"),
        format!("{name}_sum"),
        format!("{name}_count"),
    );
    for s in family.snapshot() {
        let snap = s.value.snapshot();
        for (le, n) in bounds.iter().zip(snap.cumulative) {
            let le = text::float(*le);
            t.sample(&bucket, &family.names, &s.labels, Some(("le", &le)), n);
        }
        t.sample(
            &bucket,
            &family.names,
            &s.labels,
            Some(("le", "+Inf")),
            snap.count,
        );
        t.sample(&sum, &family.names, &s.labels, None, snap.sum_seconds);
        t.sample(&count, &family.names, &s.labels, None, snap.count);
    }
}
