//! Claude Code's `~/.claude/settings.json`: merge conduit's `env` entries (every other key is
//! kept), back the file up once before the first write, undo on uninstall, and spot settings
//! or shell variables that would send Claude Code around the gateway.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::output::{self, line, warn};
use super::{api_key, daemon, env, Outcome, Paths};

pub const BASE_URL: &str = "ANTHROPIC_BASE_URL";
pub const API_KEY: &str = "ANTHROPIC_API_KEY";

/// Variables that route Claude Code to another provider, bypassing the gateway.
const ROUTING_VARS: &[&str] = &[
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
    "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
    "CLAUDE_CODE_SKIP_VERTEX_AUTH",
];

/// Managed settings take precedence over the user's.
const MANAGED_SETTINGS: &[&str] = &[
    "/etc/claude-code/managed-settings.json",
    "/Library/Application Support/ClaudeCode/managed-settings.json",
];

pub fn settings_path(paths: &Paths) -> anyhow::Result<PathBuf> {
    Ok(paths.claude_dir()?.join("settings.json"))
}

pub fn backup_path(settings: &Path) -> PathBuf {
    let mut name = settings.as_os_str().to_owned();
    name.push(".conduit.bak");
    PathBuf::from(name)
}

/// Something that sends Claude Code around conduit, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub variable: String,
    pub place: String,
    pub fix: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is set in {}: {}",
            self.variable, self.place, self.fix
        )
    }
}

/// What [`apply`] did.
#[derive(Debug)]
pub struct Applied {
    pub path: PathBuf,
    pub changed: bool,
    pub backup: Option<PathBuf>,
    pub conflicts: Vec<Conflict>,
}

impl Applied {
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path, "changed": self.changed, "backup": self.backup,
            "conflicts": self.conflicts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }

    pub fn print(&self, paths: &Paths) {
        let shown = paths.show(&self.path);
        if self.changed {
            line(format!(
                "Claude Code: wrote {BASE_URL} and {API_KEY} to {shown}"
            ));
        } else {
            line(format!("Claude Code: already configured ({shown})"));
        }
        if let Some(b) = &self.backup {
            line(format!(
                "  your previous settings are saved in {}",
                paths.show(b)
            ));
        }
        for c in &self.conflicts {
            warn(c.to_string());
        }
    }
}

/// Read settings.json; `None` when absent. A file that is not a JSON object is refused.
pub fn read(path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => bail!(
            "{} is not a JSON object; conduit will not overwrite it. Fix it, or move it away and \
             run `conduit configure-claude` again",
            path.display()
        ),
        Err(e) => bail!(
            "{} is not valid JSON ({e}); conduit will not overwrite it. Fix it, or move it away \
             and run `conduit configure-claude` again",
            path.display()
        ),
    }
}

fn write(path: &Path, settings: &Map<String, Value>) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(settings)?;
    text.push('\n');
    conduit_core::fsutil::write_private_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Point Claude Code at `url` with `key`. Idempotent: nothing is written when nothing changes.
pub fn apply(paths: &Paths, url: &str, key: &str) -> anyhow::Result<Applied> {
    let path = settings_path(paths)?;
    let existing = read(&path)?;
    let mut settings = existing.clone().unwrap_or_default();
    let env_block = settings
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(env_map) = env_block else {
        bail!(
            "`env` in {} is not a JSON object; conduit will not overwrite it. Fix it and run \
             `conduit configure-claude` again",
            path.display()
        );
    };
    let wanted = [(BASE_URL, url), (API_KEY, key)];
    let changed = wanted
        .iter()
        .any(|(k, v)| env_map.get(*k).and_then(Value::as_str) != Some(v));
    let mut backup = None;
    if changed {
        for (k, v) in wanted {
            env_map.insert(k.to_string(), Value::String(v.to_string()));
        }
        let bak = backup_path(&path);
        if existing.is_some() && !bak.exists() {
            let original = std::fs::read(&path)?;
            conduit_core::fsutil::write_private_atomic(&bak, &original)
                .with_context(|| format!("cannot write the backup {}", bak.display()))?;
            backup = Some(bak);
        }
        write(&path, &settings)?;
    }
    Ok(Applied {
        conflicts: conflicts(&settings, &format!("{} (env)", paths.show(&path)), url, key),
        path,
        changed,
        backup,
    })
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

/// Shell variables and settings that would send Claude Code elsewhere or with another key.
pub fn conflicts(
    settings: &Map<String, Value>,
    place: &str,
    url: &str,
    key: &str,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    let shell = "your shell environment";
    let unset = |v: &str| format!("unset {v} (and remove it from your shell profile)");
    if env(API_KEY).is_some_and(|v| v != key) {
        found.push(Conflict {
            variable: API_KEY.into(),
            place: shell.into(),
            fix: format!("{} so Claude Code uses conduit's key", unset(API_KEY)),
        });
    }
    if env(BASE_URL).is_some_and(|v| v.trim_end_matches('/') != url) {
        found.push(Conflict {
            variable: BASE_URL.into(),
            place: shell.into(),
            fix: format!("{} so Claude Code talks to {url}", unset(BASE_URL)),
        });
    }
    if env("ANTHROPIC_AUTH_TOKEN").is_some() {
        found.push(Conflict {
            variable: "ANTHROPIC_AUTH_TOKEN".into(),
            place: shell.into(),
            fix: format!(
                "{}: Claude Code would send it instead of conduit's key",
                unset("ANTHROPIC_AUTH_TOKEN")
            ),
        });
    }
    for var in ROUTING_VARS {
        if env(var).is_some_and(|v| truthy(&v)) {
            found.push(Conflict {
                variable: (*var).into(),
                place: shell.into(),
                fix: format!("{}: it sends Claude Code around the gateway", unset(var)),
            });
        }
    }
    found.extend(settings_conflicts(settings, place, None));
    for managed in MANAGED_SETTINGS {
        if let Ok(Some(m)) = read(Path::new(managed)) {
            found.extend(settings_conflicts(
                &m,
                &format!("{managed} (env)"),
                Some(url),
            ));
        }
    }
    found
}

fn settings_conflicts(
    settings: &Map<String, Value>,
    place: &str,
    url: Option<&str>,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    let Some(Value::Object(env_map)) = settings.get("env") else {
        return found;
    };
    let remove =
        |v: &str| format!("remove {v} from {place}: it sends Claude Code around the gateway");
    for var in ROUTING_VARS {
        if env_map
            .get(*var)
            .and_then(Value::as_str)
            .is_some_and(truthy)
        {
            found.push(Conflict {
                variable: (*var).into(),
                place: place.into(),
                fix: remove(var),
            });
        }
    }
    if env_map.get("ANTHROPIC_AUTH_TOKEN").is_some() {
        found.push(Conflict {
            variable: "ANTHROPIC_AUTH_TOKEN".into(),
            place: place.into(),
            fix: format!(
                "remove it from {place}: Claude Code would send it instead of conduit's key"
            ),
        });
    }
    if let (Some(url), Some(other)) = (url, env_map.get(BASE_URL).and_then(Value::as_str)) {
        if other.trim_end_matches('/') != url {
            found.push(Conflict {
                variable: BASE_URL.into(),
                place: place.into(),
                fix: format!(
                    "managed settings win over yours; ask your administrator to point it at {url}"
                ),
            });
        }
    }
    found
}

/// Remove what conduit wrote (its key, and the loopback base URL next to it), keeping every
/// other key. A settings file conduit created and that holds nothing else is deleted.
pub fn unconfigure(paths: &Paths, key: Option<&str>) -> anyhow::Result<bool> {
    let path = settings_path(paths)?;
    let Some(mut settings) = read(&path)? else {
        return Ok(false);
    };
    let Some(Value::Object(env_map)) = settings.get_mut("env") else {
        return Ok(false);
    };
    let ours = match env_map.get(API_KEY).and_then(Value::as_str) {
        Some(k) => key == Some(k) || k.starts_with("sk-conduit-"),
        None => false,
    };
    if !ours {
        return Ok(false);
    }
    env_map.remove(API_KEY);
    if env_map
        .get(BASE_URL)
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with("http://127.0.0.1:") || u.starts_with("http://[::1]:"))
    {
        env_map.remove(BASE_URL);
    }
    if env_map.is_empty() {
        settings.remove("env");
    }
    if settings.is_empty() && !backup_path(&path).exists() {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    } else {
        write(&path, &settings)?;
    }
    Ok(true)
}

/// Put the backup made before conduit's first write back in place. Returns whether there was one.
pub fn restore_backup(paths: &Paths) -> anyhow::Result<Option<PathBuf>> {
    let path = settings_path(paths)?;
    let bak = backup_path(&path);
    if !bak.exists() {
        return Ok(None);
    }
    std::fs::rename(&bak, &path)
        .with_context(|| format!("cannot restore {} from {}", path.display(), bak.display()))?;
    Ok(Some(path))
}

/// `conduit configure-claude`.
pub fn run(paths: &Paths, json: bool) -> Outcome {
    let url = daemon::current_url(paths)?;
    let key = api_key::current(paths)?;
    let applied = apply(paths, &url, &key)?;
    if json {
        output::json(&applied.to_json());
    } else {
        applied.print(paths);
        if !matches!(daemon::state(paths), daemon::DaemonState::Running { .. }) {
            line("conduit is not running yet: run `conduit start`");
        }
    }
    super::ok()
}
