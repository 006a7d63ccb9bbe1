//! What a member sees of their budget on every admitted response: the remaining amount of the
//! tightest cap, and the `anthropic-ratelimit-unified-*` headers Claude Code reads for its usage
//! warnings. The names and meanings are the ones Claude Code itself parses (read from its
//! 2.1.3xx bundle): a top-level `status`, and per window (`5h`, `7d`) its `utilization`
//! (fraction), `reset` (Unix seconds), `status` (`allowed` / `allowed_warning`) and
//! `surpassed-threshold` (the highest warning threshold passed, as a fraction). A budget is
//! shown as the window nearest its period: a daily cap as the short `5h` window, weekly, monthly
//! and total caps as the long `7d` one; the reset is the budget's own.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use conduit_spend::budget::{Headroom, Verdict};
use conduit_spend::Period;

/// The warning thresholds Claude Code is told about (fractions of the cap).
pub const THRESHOLDS: [f64; 2] = [0.75, 0.95];

/// The header pairs for where the caller's caps stand: the money left of the tightest, the
/// utilization, reset and thresholds of the fullest.
pub fn pairs(verdict: &Verdict) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(tightest) = &verdict.tightest {
        out.push((
            "x-conduit-budget-remaining-usd".to_owned(),
            conduit_spend::usd(tightest.remaining_nanos.max(0)),
        ));
    }
    if let Some(fullest) = &verdict.fullest {
        out.extend(unified(fullest));
    }
    out
}

fn unified(h: &Headroom) -> Vec<(String, String)> {
    let window = match h.period {
        Period::Daily => "5h",
        Period::Weekly | Period::Monthly | Period::Total => "7d",
    };
    let passed = THRESHOLDS
        .iter()
        .rev()
        .copied()
        .find(|t| h.utilization >= *t);
    let status = if passed.is_some() {
        "allowed_warning"
    } else {
        "allowed"
    };
    let name = |field: &str| format!("anthropic-ratelimit-unified-{window}-{field}");
    let mut out = vec![
        (
            "anthropic-ratelimit-unified-status".to_owned(),
            status.to_owned(),
        ),
        (
            name("utilization"),
            format!("{:.4}", h.utilization.max(0.0)),
        ),
        (name("status"), status.to_owned()),
    ];
    if let Some(reset) = h.reset_s {
        out.push((
            "anthropic-ratelimit-unified-reset".to_owned(),
            reset.to_string(),
        ));
        out.push((name("reset"), reset.to_string()));
    }
    if let Some(t) = passed {
        out.push((name("surpassed-threshold"), t.to_string()));
    }
    out
}

/// Add the headers to a response.
pub fn apply(headers: &mut HeaderMap, verdict: &Verdict) {
    for (name, value) in pairs(verdict) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(n, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headroom(period: Period, utilization: f64, reset_s: Option<i64>) -> Headroom {
        Headroom {
            limit_id: "spl_1".into(),
            scope_key: "user:u".into(),
            period,
            cap_nanos: 10_000_000_000,
            spent_nanos: (utilization * 10_000_000_000.0) as i64,
            remaining_nanos: ((1.0 - utilization) * 10_000_000_000.0) as i64,
            utilization,
            reset_s,
        }
    }

    #[test]
    fn windows_statuses_and_thresholds() {
        // (period, utilization, window, status, surpassed threshold)
        let cases = [
            (Period::Daily, 0.10, "5h", "allowed", None),
            (Period::Daily, 0.75, "5h", "allowed_warning", Some("0.75")),
            (Period::Weekly, 0.80, "7d", "allowed_warning", Some("0.75")),
            (Period::Monthly, 0.96, "7d", "allowed_warning", Some("0.95")),
            (Period::Total, 0.5, "7d", "allowed", None),
        ];
        for (period, u, window, status, passed) in cases {
            let reset = (period != Period::Total).then_some(1_796_601_600);
            let h = headroom(period, u, reset);
            let verdict = Verdict {
                tightest: Some(h.clone()),
                fullest: Some(h),
                ..Verdict::default()
            };
            let got: std::collections::HashMap<String, String> =
                pairs(&verdict).into_iter().collect();
            let get = |f: &str| got.get(&format!("anthropic-ratelimit-unified-{window}-{f}"));
            let label = format!("{period:?} {u}");
            assert_eq!(got["anthropic-ratelimit-unified-status"], status, "{label}");
            assert_eq!(get("status").map(String::as_str), Some(status), "{label}");
            assert_eq!(
                get("utilization").map(String::as_str),
                Some(format!("{u:.4}").as_str()),
                "{label}"
            );
            assert_eq!(
                get("surpassed-threshold").map(String::as_str),
                passed,
                "{label}"
            );
            assert_eq!(
                get("reset").cloned(),
                reset.map(|r| r.to_string()),
                "{label}"
            );
            assert!(
                got.contains_key("x-conduit-budget-remaining-usd"),
                "{label}"
            );
        }
    }
}
