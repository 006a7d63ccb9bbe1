//! A finished request → one priced ledger row and what it adds to the period totals. The five
//! counters are the upstream's own, never derived from a total: input (uncached), the cache
//! writes split by TTL as reported (all at 5 minutes when the upstream did not split them), the
//! cache reads, and the output. Kiro's counts are the gateway's estimate and the row says so.

use std::time::Duration;

use conduit_core::Usage;
use conduit_spend::{budget, Counters, Period};
use conduit_store::{SpendRow, TotalDelta};

use super::ledger::Pending;
use super::notify::Notice;
use super::Spend;
use crate::team::Principal;

/// What the request record knows when a request ends.
pub struct Finished<'a> {
    /// When the request started (Unix milliseconds).
    pub at_ms: i64,
    pub path: &'a str,
    /// The model the client asked for.
    pub model: &'a str,
    pub upstream: Option<&'a str>,
    /// The upstream's own model id.
    pub upstream_model: Option<&'a str>,
    pub status: u16,
    pub latency: Duration,
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
}

/// The five disjoint counters, exactly as reported.
pub fn counters(usage: &Usage) -> Counters {
    let (w5, w1h) = usage.cache_writes();
    Counters {
        input: u64::from(usage.input_tokens),
        cache_write_5m: u64::from(w5),
        cache_write_1h: u64::from(w1h),
        cache_read: u64::from(usage.cache_read_input_tokens),
        output: u64::from(usage.output_tokens),
    }
}

/// What one row adds to the period totals: its cost to the row's user, team, key and the
/// gateway, in each period window (`windows`, in [`Period::ALL`] order).
pub fn deltas(row: &SpendRow, windows: &[i64; 4]) -> Vec<TotalDelta> {
    let cost = row.cost_nanos.unwrap_or(0);
    if cost <= 0 {
        return Vec::new();
    }
    let mut scopes = Vec::with_capacity(4);
    scopes.extend(row.user_id.as_deref().map(budget::user_key));
    scopes.extend(row.team_id.as_deref().map(budget::team_key));
    scopes.extend(row.key_id.as_deref().map(budget::key_key));
    scopes.push(budget::GATEWAY_KEY.to_owned());
    let mut out = Vec::with_capacity(scopes.len() * 4);
    for (period, start) in Period::ALL.iter().zip(windows) {
        for scope in &scopes {
            out.push(TotalDelta {
                scope: scope.clone(),
                period: period.as_str().to_owned(),
                period_start: *start,
                cost_nanos: cost,
            });
        }
    }
    out
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Spend {
    /// Price and queue the row of one finished request (the hot path's end: in memory only);
    /// the tokens that count towards a tokens-per-minute limit.
    pub fn record(&self, principal: &Principal, f: &Finished<'_>) -> u64 {
        let usage = f.usage.unwrap_or_default();
        let counters = counters(&usage);
        let upstream = f.upstream.unwrap_or("");
        let priced_model = f.upstream_model.unwrap_or(f.model);
        let kiro = usage.credits.is_some() || usage.estimated;
        let at_s = f.at_ms.div_euclid(1000);
        let empty = counters == Counters::default() && usage.credits.is_none();
        let priced = if empty {
            // Nothing was used (a refusal, an error before any token): nothing to price.
            conduit_spend::Priced {
                cost_nanos: Some(0),
                priced_by: None,
            }
        } else {
            // The upstream's own id first (what was served), then the client's name for it.
            let pricer = self.pricer();
            let by_upstream =
                pricer.price(upstream, priced_model, at_s, &counters, usage.credits, kiro);
            if by_upstream.cost_nanos.is_none() && priced_model != f.model {
                pricer.price(upstream, f.model, at_s, &counters, usage.credits, kiro)
            } else {
                by_upstream
            }
        };
        if priced.cost_nanos.is_none() {
            self.warn_unpriced(upstream, priced_model);
        }
        let row = SpendRow {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: f.at_ms,
            user_id: principal.user_id.clone(),
            subject: principal.subject.clone(),
            team_id: principal.team_id.clone(),
            key_id: Some(principal.credential_id.clone()),
            upstream: f.upstream.map(str::to_owned),
            model: f.model.to_owned(),
            upstream_model: f.upstream_model.map(str::to_owned),
            path: f.path.to_owned(),
            status: i64::from(f.status),
            latency_ms: ms(f.latency),
            ttft_ms: f.ttft.map(ms),
            input_tokens: counters.input as i64,
            cache_write_5m: counters.cache_write_5m as i64,
            cache_write_1h: counters.cache_write_1h as i64,
            cache_read: counters.cache_read as i64,
            output_tokens: counters.output as i64,
            credits_micros: usage.credits.map(|c| (c * 1e6).round() as i64),
            estimated: usage.estimated,
            cost_nanos: priced.cost_nanos,
            priced_by: priced.priced_by,
        };
        let windows = self.windows();
        let cost = row.cost_nanos.unwrap_or(0);
        if cost > 0 {
            // The in-memory totals serve budget checks only: without a limit, the writer's
            // commit brings them (and the store's) up to date.
            if !self.limits().is_empty() {
                let deltas = deltas(&row, &windows);
                self.totals.add_pending(&deltas);
                self.notice_crossings(principal, &deltas);
            }
            crate::metrics::cost(upstream, f.model, cost);
        }
        // Cache reads do not count towards a tokens-per-minute limit (as at Anthropic).
        let tpm_tokens =
            counters.input + counters.cache_write_5m + counters.cache_write_1h + counters.output;
        self.ledger.push(Pending { row, windows });
        tpm_tokens
    }

    /// Queue a notice for every threshold this row's cost carried a cap across.
    fn notice_crossings(&self, principal: &Principal, deltas: &[TotalDelta]) {
        let limits = self.limits();
        if limits.is_empty() || self.config.notify_percent.is_empty() {
            return;
        }
        for (limit, scope) in limits.applicable(principal) {
            let Some(cap) = limit.amount_nanos.filter(|c| *c > 0) else {
                continue;
            };
            let Some(delta) = deltas
                .iter()
                .find(|d| d.scope == scope && d.period == limit.period.as_str())
            else {
                continue;
            };
            let after = self
                .totals
                .get(&scope, limit.period.as_str(), delta.period_start);
            let before = after - delta.cost_nanos;
            for threshold in
                conduit_spend::budget::crossed(before, after, cap, &self.config.notify_percent)
            {
                let _ = self.notices.send(Notice {
                    limit_id: limit.id.clone(),
                    scope: scope.clone(),
                    period: limit.period,
                    period_start: delta.period_start,
                    threshold,
                    spent_nanos: after,
                    cap_nanos: cap,
                });
            }
        }
    }
}
