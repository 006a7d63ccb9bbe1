//! Team mode's spend settings (environment): the budget time zone, the ledger's batching, and
//! where threshold notices go.

use std::time::Duration;

/// `SPEND_*` settings.
#[derive(Clone, Debug)]
pub struct SpendConfig {
    /// `SPEND_TIME_ZONE` (IANA name, default `UTC`): where days, weeks (Monday) and months of
    /// budget periods begin.
    pub time_zone: String,
    /// `SPEND_FLUSH_MS` (default 1000, 50–60000): the longest a ledger row waits in memory before
    /// its batch is written; also what `kill -9` can lose at most.
    pub flush_interval: Duration,
    /// `SPEND_BATCH_ROWS` (default 500): a batch is written as soon as this many rows wait.
    pub batch_rows: usize,
    /// `SPEND_WEBHOOK_URL`: budget threshold notices are POSTed here (JSON) besides the log.
    pub webhook_url: Option<String>,
    /// `SPEND_NOTIFY_PERCENT` (default `50,75,95,100`): the thresholds that notify.
    pub notify_percent: Vec<u8>,
    /// `SPEND_REFRESH_MS` (default 1000): how often budget totals are re-read from the store
    /// (what other instances spent).
    pub refresh_interval: Duration,
}

impl Default for SpendConfig {
    fn default() -> Self {
        Self {
            time_zone: "UTC".into(),
            flush_interval: Duration::from_millis(1000),
            batch_rows: 500,
            webhook_url: None,
            notify_percent: vec![50, 75, 95, 100],
            refresh_interval: Duration::from_millis(1000),
        }
    }
}

fn millis(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, String> {
    match env(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(Duration::from_millis(default)),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Duration::from_millis(n)),
            _ => Err(format!(
                "{name} `{v}` must be a whole number of milliseconds from {} to {}",
                range.start(),
                range.end()
            )),
        },
    }
}

pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<SpendConfig, String> {
    let d = SpendConfig::default();
    let time_zone = env("SPEND_TIME_ZONE")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or(d.time_zone);
    let flush_interval = millis(env, "SPEND_FLUSH_MS", 1000, 50..=60_000)?;
    let refresh_interval = millis(env, "SPEND_REFRESH_MS", 1000, 100..=60_000)?;
    let batch_rows = match env("SPEND_BATCH_ROWS").filter(|v| !v.trim().is_empty()) {
        None => d.batch_rows,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => return Err(format!("SPEND_BATCH_ROWS `{v}` must be from 1 to 10000")),
        },
    };
    let webhook_url = env("SPEND_WEBHOOK_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if let Some(url) = &webhook_url {
        let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(format!("SPEND_WEBHOOK_URL `{url}` is not an http(s) URL"));
        }
    }
    let notify_percent = match env("SPEND_NOTIFY_PERCENT").filter(|v| !v.trim().is_empty()) {
        None => d.notify_percent,
        Some(v) => {
            let mut out = Vec::new();
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.parse::<u8>() {
                    Ok(p) if (1..=100).contains(&p) => out.push(p),
                    _ => {
                        return Err(format!(
                            "SPEND_NOTIFY_PERCENT `{v}`: `{part}` is not a percentage from 1 to 100"
                        ))
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    };
    Ok(SpendConfig {
        time_zone,
        flush_interval,
        batch_rows,
        webhook_url,
        notify_percent,
        refresh_interval,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SpendConfig, String> {
        from_env(&crate::config::env_from(pairs))
    }

    #[test]
    fn defaults_and_values() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.time_zone, "UTC");
        assert_eq!(c.flush_interval, Duration::from_secs(1));
        assert_eq!(c.notify_percent, [50, 75, 95, 100]);
        let c = cfg(&[
            ("SPEND_TIME_ZONE", "Europe/Berlin"),
            ("SPEND_FLUSH_MS", "250"),
            ("SPEND_BATCH_ROWS", "100"),
            ("SPEND_NOTIFY_PERCENT", "95, 80,80"),
            ("SPEND_WEBHOOK_URL", "https://hooks.example.com/x"),
        ])
        .unwrap();
        assert_eq!(c.time_zone, "Europe/Berlin");
        assert_eq!(c.flush_interval, Duration::from_millis(250));
        assert_eq!(c.batch_rows, 100);
        assert_eq!(c.notify_percent, [80, 95]);
        assert!(c.webhook_url.is_some());
    }

    #[test]
    fn bad_values_are_explained() {
        for (k, v) in [
            ("SPEND_FLUSH_MS", "10"),
            ("SPEND_FLUSH_MS", "soon"),
            ("SPEND_BATCH_ROWS", "0"),
            ("SPEND_NOTIFY_PERCENT", "50,101"),
            ("SPEND_WEBHOOK_URL", "ftp://x"),
            ("SPEND_REFRESH_MS", "5"),
        ] {
            let e = cfg(&[(k, v)]).err().unwrap();
            assert!(e.contains(k), "{e}");
        }
    }
}
