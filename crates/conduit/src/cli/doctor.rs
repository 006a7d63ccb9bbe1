//! `doctor`: walk every link from Claude Code to Kiro — binary on PATH, daemon, port, health,
//! credentials, the key, Claude Code's settings, conflicting variables — and say how to fix
//! each broken one. Exits 4 when a check fails (warnings alone exit 0).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use super::daemon::{self, DaemonState};
use super::output::{self, line};
use super::probe::Probe;
use super::{api_key, claude_settings, env, exit, status, Outcome, Paths};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    name: &'static str,
    level: Level,
    detail: String,
    fix: Option<String>,
}

fn check(
    name: &'static str,
    level: Level,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        name,
        level,
        detail: detail.into(),
        fix,
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

pub fn run(paths: &Paths, json_out: bool) -> Outcome {
    let checks = gather(paths)?;
    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if json_out {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| {
                json!({"check": c.name, "level": format!("{:?}", c.level).to_lowercase(),
                "detail": c.detail, "fix": c.fix})
            })
            .collect();
        output::json(&json!({"ok": !failed, "checks": list}));
    } else {
        for c in &checks {
            let mark = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            line(format!("[{mark}] {}: {}", c.name, c.detail));
            if let Some(fix) = &c.fix {
                line(format!("       fix: {fix}"));
            }
        }
        line(if failed {
            "some links are broken: see the fixes above"
        } else {
            "every link from Claude Code to Kiro looks fine"
        });
    }
    Ok(ExitCode::from(if failed {
        exit::UNHEALTHY
    } else {
        exit::OK
    }))
}

fn gather(paths: &Paths) -> anyhow::Result<Vec<Check>> {
    let mut out = Vec::new();
    out.push(match on_path("conduit") {
        Some(p) => check(
            "binary",
            Level::Ok,
            format!("conduit on PATH at {}", paths.show(&p)),
            None,
        ),
        None => check(
            "binary",
            Level::Warn,
            "conduit is not on PATH",
            Some(format!(
                "add it: export PATH=\"{}:$PATH\" (in your shell profile)",
                paths.bin_dir()?.display()
            )),
        ),
    });
    let state = daemon::state(paths);
    let port = match &state {
        DaemonState::Running {
            pid,
            port: Some(port),
        } => {
            out.push(check(
                "daemon",
                Level::Ok,
                format!("running (pid {pid}) on port {port}"),
                None,
            ));
            Some(*port)
        }
        DaemonState::Running { pid, port: None } => {
            out.push(check(
                "daemon",
                Level::Fail,
                format!("pid {pid} runs but wrote no port"),
                Some("`conduit restart`; see `conduit logs`".into()),
            ));
            None
        }
        DaemonState::Stale { pid } => {
            out.push(check(
                "daemon",
                Level::Fail,
                format!("not running (stale PID file of {pid})"),
                Some("`conduit start`".into()),
            ));
            None
        }
        DaemonState::Stopped => {
            out.push(check(
                "daemon",
                Level::Fail,
                "not running",
                Some("`conduit start`".into()),
            ));
            None
        }
    };
    let config = daemon::gateway_config(None, None)?;
    let key = api_key::current(paths)?;
    if let Some(port) = port {
        let url = daemon::base_url(config.host, port);
        let probe = Probe::new()?;
        match probe.health(&url) {
            Err(e) => out.push(check(
                "health",
                Level::Fail,
                format!("{e:#}"),
                Some("`conduit restart`; see `conduit logs`".into()),
            )),
            Ok(h) => {
                let upstream = &h.body["upstream"];
                let level = if h.healthy() { Level::Ok } else { Level::Fail };
                let fix = (!h.healthy()).then(|| "`conduit login` to sign in again (or fix KIRO_CREDS_FILE), then `conduit restart`".to_string());
                out.push(check(
                    "kiro credentials",
                    level,
                    status::credentials_line(upstream),
                    fix,
                ));
                out.extend(status::accounts(upstream).iter().map(account_check));
                if let Some(e) = upstream["last_error"].as_str() {
                    out.push(check("last upstream error", Level::Warn, e, None));
                }
                out.push(match probe.models_status(&url, &key) {
                    Ok(200) => check("gateway key", Level::Ok, "the key is accepted", None),
                    Ok(s) => check(
                        "gateway key",
                        Level::Fail,
                        format!("the key is refused (HTTP {s})"),
                        Some("`conduit restart` so the daemon reads the current key".into()),
                    ),
                    Err(e) => check("gateway key", Level::Fail, format!("{e:#}"), None),
                });
            }
        }
    }
    out.extend(claude_checks(paths, &config, port, &key)?);
    Ok(out)
}

/// A Kiro account's state: suspended or disabled fail (they serve nothing until the user acts);
/// a cooldown or a used-up quota only warns (conduit moves on by itself).
fn account_check(a: &status::Account) -> Check {
    let (level, fix) = match a.state.as_str() {
        "active" => (Level::Ok, None),
        "cooling_down" => (
            Level::Warn,
            Some("nothing to do: conduit uses it again when the cooldown ends (other accounts serve meanwhile)"),
        ),
        "quota" => (
            Level::Warn,
            Some("wait for the monthly reset (`GET /v1/usage` says when), or add an account with `conduit login`"),
        ),
        "suspended" => (
            Level::Fail,
            Some("Kiro suspended this account and conduit no longer sends it anything: contact AWS support, then sign in again with `conduit login`"),
        ),
        _ => (
            Level::Fail,
            Some("`conduit login` to sign in again, then `conduit restart`"),
        ),
    };
    check(
        "kiro account",
        level,
        format!("{}: {}", a.name, a.summary()),
        fix.map(str::to_string),
    )
}

fn claude_checks(
    paths: &Paths,
    config: &conduit::config::GatewayConfig,
    port: Option<u16>,
    key: &str,
) -> anyhow::Result<Vec<Check>> {
    let mut out = Vec::new();
    out.push(match on_path("claude") {
        Some(p) => check(
            "claude code",
            Level::Ok,
            format!("installed at {}", paths.show(&p)),
            None,
        ),
        None => check(
            "claude code",
            Level::Warn,
            "`claude` is not on PATH",
            Some("install it: npm install -g @anthropic-ai/claude-code".into()),
        ),
    });
    let path = claude_settings::settings_path(paths)?;
    let url = daemon::base_url(config.host, port.unwrap_or(config.port));
    let configure = Some("`conduit configure-claude`".to_string());
    let settings = match claude_settings::read(&path) {
        Err(e) => {
            out.push(check(
                "claude settings",
                Level::Fail,
                format!("{e:#}"),
                None,
            ));
            return Ok(out);
        }
        Ok(s) => s.unwrap_or_default(),
    };
    let env_map = settings.get("env").cloned().unwrap_or(Value::Null);
    let set_url = env_map[claude_settings::BASE_URL].as_str();
    let set_key = env_map[claude_settings::AUTH_TOKEN].as_str();
    let compaction = (set_url == Some(url.as_str())
        && !env_map[claude_settings::COMPACT_WINDOW].is_string())
    .then(|| {
        check(
            "claude compaction",
            Level::Warn,
            format!(
                "{} has no {}: Claude Code assumes a 200K window behind a gateway",
                paths.show(&path),
                claude_settings::COMPACT_WINDOW
            ),
            configure.clone(),
        )
    });
    out.push(match (set_url, set_key) {
        (Some(u), None) if u == url && env_map[claude_settings::API_KEY].is_string() => check(
            "claude settings",
            Level::Fail,
            format!(
                "{} has the key as {} (a first interactive `claude` then asks whether to use \
                 it, default No)",
                paths.show(&path),
                claude_settings::API_KEY
            ),
            configure.clone(),
        ),
        (Some(u), Some(k)) if u == url && k == key => check(
            "claude settings",
            Level::Ok,
            format!("{} points at {url}", paths.show(&path)),
            None,
        ),
        (Some(u), _) if u != url => check(
            "claude settings",
            Level::Fail,
            format!("{} points at {u}, not {url}", paths.show(&path)),
            configure,
        ),
        (Some(_), Some(_)) => check(
            "claude settings",
            Level::Fail,
            format!("{} has another key than conduit's", paths.show(&path)),
            configure,
        ),
        _ => check(
            "claude settings",
            Level::Fail,
            format!("{} does not point at conduit", paths.show(&path)),
            configure,
        ),
    });
    out.extend(compaction);
    let place = format!("{} (env)", paths.show(&path));
    for c in claude_settings::conflicts(&settings, &place, &url, key) {
        out.push(check(
            "conflict",
            Level::Fail,
            format!("{} is set in {}", c.variable, c.place),
            Some(c.fix),
        ));
    }
    if env("CONDUIT_HOST").is_some_and(|h| h != "127.0.0.1" && h != "localhost") {
        out.push(check(
            "exposure",
            Level::Warn,
            "CONDUIT_HOST makes conduit listen beyond loopback",
            Some("unset CONDUIT_HOST unless other machines must reach it".into()),
        ));
    }
    Ok(out)
}
