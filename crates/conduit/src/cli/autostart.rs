//! `enable-autostart` / `disable-autostart`: a systemd user unit on Linux, a launchd agent on
//! macOS, both running `conduit serve` in the foreground under the service manager.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use clap::ValueEnum;
use serde_json::json;

use super::output::{self, line, note, warn};
use super::{daemon, env, Outcome, Paths};

pub const UNIT_NAME: &str = "conduit.service";
pub const LAUNCHD_LABEL: &str = "dev.conduit.gateway";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A systemd user unit (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
}

impl Kind {
    pub fn native() -> Self {
        if cfg!(target_os = "macos") {
            Kind::Launchd
        } else {
            Kind::Systemd
        }
    }
}

/// Environment carried into the service: configuration, never secrets.
const CARRIED: &[&str] = &[
    "KIRO_CREDS_FILE",
    "KIRO_CLI_DB_FILE",
    "PROFILE_ARN",
    "KIRO_REGION",
    "FIRST_TOKEN_TIMEOUT",
    "FIRST_TOKEN_MAX_RETRIES",
    "DEBUG_MODE",
];
const SECRET: &[&str] = &["PROXY_API_KEY", "KIRO_REFRESH_TOKEN"];

fn carried_env(paths: &Paths) -> Vec<(String, String)> {
    let mut vars = vec![("CONDUIT_HOME".to_string(), paths.home.display().to_string())];
    let mut names: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| {
            (k.starts_with("CONDUIT_") && k != "CONDUIT_HOME" && k != "CONDUIT_NO_BROWSER")
                || CARRIED.contains(&k.as_str())
        })
        .collect();
    names.sort();
    vars.extend(names.into_iter().filter_map(|k| env(&k).map(|v| (k, v))));
    vars
}

pub fn file_path(paths: &Paths, kind: Kind) -> anyhow::Result<PathBuf> {
    let home = paths.require_user_home()?;
    Ok(match kind {
        Kind::Systemd => env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"))
            .join("systemd/user")
            .join(UNIT_NAME),
        Kind::Launchd => home
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist")),
    })
}

/// systemd quoting inside `"..."`, with `%` specifiers and `$` expansion disarmed.
fn systemd_quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

pub fn systemd_unit(exe: &Path, vars: &[(String, String)], stop_timeout: u64) -> String {
    let mut env_lines = String::new();
    for (k, v) in vars {
        env_lines.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{k}={v}"))
        ));
    }
    format!(
        "[Unit]\n\
         Description=conduit gateway (Claude Code to Kiro)\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} serve\n\
         {env_lines}\
         Restart=on-failure\n\
         RestartSec=5\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec={stop_timeout}\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        systemd_quote(&exe.display().to_string())
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn launchd_plist(exe: &Path, vars: &[(String, String)]) -> String {
    let mut env_entries = String::new();
    for (k, v) in vars {
        env_entries.push_str(&format!(
            "\t\t<key>{}</key>\n\t\t<string>{}</string>\n",
            xml(k),
            xml(v)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \t<key>Label</key>\n\t<string>{LAUNCHD_LABEL}</string>\n\
         \t<key>ProgramArguments</key>\n\t<array>\n\t\t<string>{}</string>\n\t\t<string>serve</string>\n\t</array>\n\
         \t<key>EnvironmentVariables</key>\n\t<dict>\n{env_entries}\t</dict>\n\
         \t<key>RunAtLoad</key>\n\t<true/>\n\
         \t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n\
         \t<key>ProcessType</key>\n\t<string>Background</string>\n\
         \t<key>StandardOutPath</key>\n\t<string>/dev/null</string>\n\
         \t<key>StandardErrorPath</key>\n\t<string>/dev/null</string>\n\
         </dict>\n\
         </plist>\n",
        xml(&exe.display().to_string())
    )
}

fn render(paths: &Paths, kind: Kind) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the conduit executable")?;
    let vars = carried_env(paths);
    let grace = daemon::gateway_config(None, None)?.shutdown_grace.as_secs() + 5;
    Ok(match kind {
        Kind::Systemd => systemd_unit(&exe, &vars, grace),
        Kind::Launchd => launchd_plist(&exe, &vars),
    })
}

/// Run a service-manager command; its failure is a warning (the file is still in place).
fn manager(program: &str, args: &[&str]) -> bool {
    let result = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output();
    match result {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            warn(format!(
                "`{program} {}` failed: {}",
                args.join(" "),
                err.trim()
            ));
            false
        }
        Err(e) => {
            warn(format!("cannot run {program}: {e}"));
            false
        }
    }
}

pub fn enable(
    paths: &Paths,
    kind: Option<Kind>,
    print: bool,
    no_activate: bool,
    json: bool,
) -> Outcome {
    let kind = kind.unwrap_or_else(Kind::native);
    let text = render(paths, kind)?;
    if print {
        output::raw(text.as_bytes())?;
        return super::ok();
    }
    for secret in SECRET {
        if env(secret).is_some() {
            note(format!(
                "{secret} is set but not written into the service file (it is a secret)"
            ));
        }
    }
    let path = file_path(paths, kind)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    let activated = !no_activate && activate(paths, kind, &path);
    if json {
        output::json(
            &json!({"kind": format!("{kind:?}").to_lowercase(), "path": path, "activated": activated}),
        );
        return super::ok();
    }
    line(format!("autostart: wrote {}", paths.show(&path)));
    if activated {
        line("conduit will start at login");
    } else {
        line(match kind {
            Kind::Systemd => format!("activate it with: systemctl --user daemon-reload && systemctl --user enable {UNIT_NAME}"),
            Kind::Launchd => format!("activate it with: launchctl bootstrap gui/$(id -u) {}", path.display()),
        });
    }
    super::ok()
}

fn activate(paths: &Paths, kind: Kind, path: &Path) -> bool {
    match kind {
        Kind::Systemd => {
            manager("systemctl", &["--user", "daemon-reload"])
                && manager("systemctl", &["--user", "enable", UNIT_NAME])
        }
        Kind::Launchd => {
            // Loading the agent starts it now; a daemon already running would hold the port.
            if matches!(daemon::state(paths), daemon::DaemonState::Running { .. }) {
                note("conduit is running now; the agent takes over at the next login");
                return true;
            }
            let uid = rustix::process::getuid().as_raw();
            manager(
                "launchctl",
                &[
                    "bootstrap",
                    &format!("gui/{uid}"),
                    &path.display().to_string(),
                ],
            )
        }
    }
}

/// Remove the autostart file(s); returns the ones removed.
pub fn remove(paths: &Paths, no_activate: bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for kind in [Kind::Systemd, Kind::Launchd] {
        let path = file_path(paths, kind)?;
        if !path.exists() {
            continue;
        }
        if !no_activate {
            match kind {
                Kind::Systemd => {
                    manager("systemctl", &["--user", "disable", UNIT_NAME]);
                }
                Kind::Launchd => {
                    let uid = rustix::process::getuid().as_raw();
                    manager(
                        "launchctl",
                        &["bootout", &format!("gui/{uid}/{LAUNCHD_LABEL}")],
                    );
                }
            }
        }
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        if kind == Kind::Systemd && !no_activate {
            manager("systemctl", &["--user", "daemon-reload"]);
        }
        removed.push(path);
    }
    Ok(removed)
}

pub fn disable(paths: &Paths, no_activate: bool, json: bool) -> Outcome {
    let removed = remove(paths, no_activate)?;
    if json {
        output::json(&json!({"removed": removed}));
    } else if removed.is_empty() {
        line("autostart was not enabled; nothing to remove");
    } else {
        for p in &removed {
            line(format!("autostart: removed {}", paths.show(p)));
        }
    }
    super::ok()
}
