//! What a member sees of their budget on every admitted response: the remaining amount of the
//! tightest cap, and the `anthropic-ratelimit-unified-*` headers Claude Code reads to warn at
//! 75% and 95% (names as seen on Anthropic's own traffic; team-gateway spec §5.5). The status
//! turns `allowed_warning` from 75%.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use conduit_spend::budget::{Headroom, Verdict};

/// From this utilization on, the status is `allowed_warning`.
pub const WARN_AT: f64 = 0.75;

/// The header pairs for where the caller's caps stand: the money left of the tightest, the
/// utilization and reset of the fullest.
pub fn pairs(verdict: &Verdict) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(tightest) = &verdict.tightest {
        out.push((
            "x-conduit-budget-remaining-usd",
            conduit_spend::usd(tightest.remaining_nanos.max(0)),
        ));
    }
    if let Some(fullest) = &verdict.fullest {
        out.extend(unified(fullest));
    }
    out
}

fn unified(headroom: &Headroom) -> Vec<(&'static str, String)> {
    let status = if headroom.utilization >= WARN_AT {
        "allowed_warning"
    } else {
        "allowed"
    };
    let mut out = vec![
        ("anthropic-ratelimit-unified-status", status.to_owned()),
        (
            "anthropic-ratelimit-unified-utilization",
            format!("{:.4}", headroom.utilization.clamp(0.0, 1.0)),
        ),
        (
            "anthropic-ratelimit-unified-remaining",
            format!("{:.4}", (1.0 - headroom.utilization).clamp(0.0, 1.0)),
        ),
    ];
    if let Some(reset) = headroom.reset_s {
        out.push(("anthropic-ratelimit-unified-reset", reset.to_string()));
    }
    out
}

/// Add the headers to a response.
pub fn apply(headers: &mut HeaderMap, verdict: &Verdict) {
    for (name, value) in pairs(verdict) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}
