//! `status`: is the daemon running, on which port, is it healthy, which Kiro account are its
//! credentials for and until when. Exits 0 when healthy, 3 when stopped, 4 when unhealthy.

use std::process::ExitCode;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::daemon::{self, DaemonState};
use super::output::{self, line};
use super::probe::Probe;
use super::{exit, Outcome, Paths};

pub fn run(paths: &Paths, json_out: bool) -> Outcome {
    let state = daemon::state(paths);
    let version = env!("CARGO_PKG_VERSION");
    let (pid, port) = match &state {
        DaemonState::Running {
            pid,
            port: Some(port),
        } => (*pid, *port),
        DaemonState::Running { pid, port: None } => {
            // Started but not listening yet (or the port file was removed).
            return not_running(
                json_out,
                &state,
                Some(format!("pid {pid} runs but has no port file yet")),
            );
        }
        DaemonState::Stale { pid } => {
            return not_running(
                json_out,
                &state,
                Some(format!(
                    "stale PID file: process {pid} is gone; `conduit start` cleans it up"
                )),
            );
        }
        DaemonState::Stopped => return not_running(json_out, &state, None),
    };
    let config = daemon::gateway_config(None, None)?;
    let url = daemon::base_url(config.host, port);
    let health = Probe::new()?.health(&url).ok();
    let healthy = health.as_ref().is_some_and(|h| h.healthy());
    let upstream = health
        .as_ref()
        .map(|h| h.body["upstream"].clone())
        .unwrap_or(Value::Null);
    if json_out {
        output::json(&json!({
            "running": true, "pid": pid, "port": port, "url": url, "healthy": healthy,
            "accounts": accounts(&upstream).iter().map(Account::to_json).collect::<Vec<_>>(),
            "upstreams": health.as_ref().map(|h| h.body["upstreams"].clone()).unwrap_or(Value::Null),
            "health": health.as_ref().map(|h| h.body.clone()),
            "version": version,
            "server_version": health.as_ref().map(|h| h.body["version"].clone()),
        }));
    } else {
        line(format!("conduit {version}: running (pid {pid}) on {url}"));
        let health_line = match &health {
            None => "no answer from /health (starting, or hung: see `conduit logs`)".to_string(),
            Some(h) if h.healthy() => "ok".into(),
            Some(h) => format!(
                "{} (HTTP {})",
                h.body["status"].as_str().unwrap_or("unhealthy"),
                h.http_status
            ),
        };
        let mut rows = vec![("health", health_line)];
        let list = health
            .as_ref()
            .map(|h| h.body["upstreams"].clone())
            .unwrap_or(Value::Null);
        let kinds: Vec<&str> = list
            .as_array()
            .map(|l| l.iter().filter_map(|u| u["kind"].as_str()).collect())
            .unwrap_or_default();
        // One Kiro upstream alone: its accounts below say it all, as before config files.
        if kinds != ["kiro"] {
            rows.extend(upstreams(&list).into_iter().map(|u| ("upstream", u)));
        }
        let has_kiro = kinds.is_empty() || kinds.contains(&"kiro");
        let accounts = if has_kiro {
            accounts(&upstream)
        } else {
            Vec::new()
        };
        if accounts.len() > 1 {
            let usable = accounts.iter().filter(|a| a.state == "active").count();
            rows.push(("accounts", format!("{} ({usable} usable)", accounts.len())));
            for a in &accounts {
                rows.push(("account", format!("{}: {}", a.name, a.summary())));
            }
        } else if has_kiro {
            rows.push(("credentials", credentials_line(&upstream)));
            if let Some(a) = accounts.first() {
                rows.push(("account", a.summary()));
            }
        }
        if let Some(store) = upstream["secret_store"].as_str() {
            rows.push(("secrets", secret_store_line(store)));
        }
        if let Some(v) = health.as_ref().and_then(|h| h.body["version"].as_str()) {
            if v != version {
                rows.push(("server version", format!("{v} (restart to run {version})")));
            }
        }
        if let Some(e) = upstream["last_error"].as_str() {
            rows.push(("last error", e.to_string()));
        }
        output::rows(&rows);
    }
    Ok(ExitCode::from(if healthy {
        exit::OK
    } else {
        exit::UNHEALTHY
    }))
}

fn not_running(json_out: bool, state: &DaemonState, detail: Option<String>) -> Outcome {
    if json_out {
        let mut v = daemon::state_json(state);
        v["version"] = json!(env!("CARGO_PKG_VERSION"));
        v["healthy"] = json!(false);
        output::json(&v);
    } else {
        line(format!("conduit {}: stopped", env!("CARGO_PKG_VERSION")));
        if let Some(d) = detail {
            line(format!("  {d}"));
        }
        line("  start it with `conduit start`");
    }
    Ok(ExitCode::from(exit::NOT_RUNNING))
}

/// One Kiro account as `/health` describes it (several: `upstream.accounts[]`; one: the
/// upstream detail itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: String,
    /// `active`, `cooling_down`, `quota`, `suspended` or `disabled`.
    pub state: String,
    pub reason: Option<String>,
    pub credits_used: f64,
    pub cooldown_until: Option<String>,
}

impl Account {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name, "state": self.state, "reason": self.reason,
            "credits_used": self.credits_used, "cooldown_until": self.cooldown_until,
        })
    }

    /// "active, 1.24 credits used" / "suspended (Your User ID … is suspended), 0.5 credits used".
    pub fn summary(&self) -> String {
        let mut s = self.state.replace('_', " ");
        if let Some(until) = &self.cooldown_until {
            s.push_str(&format!(" until {until}"));
        }
        if let Some(r) = &self.reason {
            s.push_str(&format!(" ({r})"));
        }
        format!("{s}, {:.2} credits used", self.credits_used)
    }
}

/// The accounts in a `/health` upstream detail that report a state.
pub fn accounts(upstream: &Value) -> Vec<Account> {
    let one = |v: &Value, name: String| {
        Some(Account {
            name,
            state: v["state"].as_str()?.to_string(),
            reason: v["reason"].as_str().map(str::to_string),
            credits_used: v["credits_used"].as_f64().unwrap_or(0.0),
            cooldown_until: v["cooldown_until"].as_str().map(str::to_string),
        })
    };
    match upstream["accounts"].as_array() {
        Some(list) => list
            .iter()
            .filter_map(|a| {
                let name = a["label"]
                    .as_str()
                    .or_else(|| a["id"].as_str())
                    .unwrap_or("?");
                one(a, name.to_string())
            })
            .collect(),
        None => one(upstream, "account".into()).into_iter().collect(),
    }
}

/// One line per upstream of `/health`'s `upstreams`: "bedrock-us (bedrock): cooling down until
/// 2026-12-04 17:00:00 UTC (throttled)".
pub fn upstreams(list: &Value) -> Vec<String> {
    let Some(list) = list.as_array() else {
        return Vec::new();
    };
    list.iter()
        .map(|u| {
            let mut s = format!(
                "{} ({}): {}",
                u["id"].as_str().unwrap_or("?"),
                u["kind"].as_str().unwrap_or("?"),
                u["state"].as_str().unwrap_or("?").replace('_', " ")
            );
            if let Some(until) = u["cooldown_until"].as_u64() {
                let at = i64::try_from(until)
                    .ok()
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
                if let Some(at) = at {
                    s.push_str(&format!(
                        " until {:02}:{:02}:{:02} UTC",
                        at.hour(),
                        at.minute(),
                        at.second()
                    ));
                }
            }
            if let Some(r) = u["reason"].as_str() {
                s.push_str(&format!(" ({r})"));
            }
            s
        })
        .collect()
}

/// "social sign-in, account 123456789012, expires 2026-05-01 12:00 UTC (in 53 min)".
pub fn credentials_line(upstream: &Value) -> String {
    let Some(source) = upstream["source"].as_str() else {
        return "none loaded: run `conduit login` (or set KIRO_CREDS_FILE)".into();
    };
    let mut parts = vec![format!("loaded from {source}")];
    if let Some(m) = upstream["auth_method"].as_str() {
        parts.push(format!("{m} sign-in"));
    }
    if let Some(account) = upstream["profile_arn"].as_str().and_then(account_of_arn) {
        parts.push(format!("account {account}"));
    }
    if let Some(exp) = upstream["expires_at"].as_str() {
        parts.push(expiry(exp));
    }
    parts.join(", ")
}

/// Where refresh tokens and client secrets are kept (`CONDUIT_SECRET_STORE`).
fn secret_store_line(store: &str) -> String {
    match store {
        "keychain" => "OS keychain (refresh tokens and client secrets)".into(),
        "file" => "0600 files under $CONDUIT_HOME/data (no keychain in use)".into(),
        other => other.to_string(),
    }
}

/// The AWS account id in `arn:aws:codewhisperer:REGION:ACCOUNT:profile/ID`.
fn account_of_arn(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

fn expiry(rfc3339: &str) -> String {
    let Ok(at) = OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
    else {
        return format!("token expires {rfc3339}");
    };
    let left = at - OffsetDateTime::now_utc();
    let mins = left.whole_minutes();
    if mins < 0 {
        format!("token expired {rfc3339} (refreshed on the next request)")
    } else if mins < 120 {
        format!("token valid until {rfc3339} ({mins} min; refreshed automatically)")
    } else {
        format!(
            "token valid until {rfc3339} ({} h; refreshed automatically)",
            left.whole_hours()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_with_their_state_and_credits() {
        let several = json!({"accounts": [
            {"id": "acc_1", "label": "work", "state": "active", "reason": null, "credits_used": 1.234},
            {"id": "acc_2", "state": "suspended", "reason": "suspended by Kiro", "credits_used": 0.5},
            {"id": "acc_3", "state": "cooling_down", "reason": "429", "cooldown_until": "2026-12-04T17:00:00Z"},
        ]});
        let got: Vec<(String, String)> = accounts(&several)
            .iter()
            .map(|a| (a.name.clone(), a.summary()))
            .collect();
        assert_eq!(
            got,
            [
                ("work".into(), "active, 1.23 credits used".into()),
                (
                    "acc_2".into(),
                    "suspended (suspended by Kiro), 0.50 credits used".into()
                ),
                (
                    "acc_3".into(),
                    "cooling down until 2026-12-04T17:00:00Z (429), 0.00 credits used".into()
                ),
            ]
        );
        let single = json!({"source": "file x", "state": "quota", "reason": "monthly limit", "credits_used": 2.0});
        assert_eq!(
            accounts(&single)[0].summary(),
            "quota (monthly limit), 2.00 credits used"
        );
        assert!(accounts(&json!({"source": "file x"})).is_empty());
    }

    #[test]
    fn upstreams_with_their_state() {
        let list = json!([
            {"id": "bedrock-us", "kind": "bedrock", "state": "cooling_down",
             "reason": "throttled", "cooldown_until": 1_796_000_000u64},
            {"id": "kiro", "kind": "kiro", "state": "ready", "reason": null, "cooldown_until": null},
        ]);
        assert_eq!(
            upstreams(&list),
            [
                "bedrock-us (bedrock): cooling down until 00:53:20 UTC (throttled)",
                "kiro (kiro): ready",
            ]
        );
        assert!(upstreams(&Value::Null).is_empty());
    }

    #[test]
    fn credentials_name_the_account() {
        let v = json!({"source": "file /x.json", "auth_method": "social",
            "profile_arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/X",
            "expires_at": "2000-01-01T00:00:00Z"});
        let s = credentials_line(&v);
        assert!(
            s.contains("account 123456789012") && s.contains("social") && s.contains("expired"),
            "{s}"
        );
        assert!(credentials_line(&json!({"source": null})).contains("conduit login"));
    }
}
