//! Claude Code's `~/.claude/settings.json`: merge conduit's `env` entries (every other key is
//! kept), back the file up once before the first write, undo on uninstall, and spot settings
//! or shell variables that would send Claude Code around the gateway.
//!
//! The key goes in as `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`, which the
//! gateway accepts like `x-api-key`), never as `ANTHROPIC_API_KEY`: with an API key in its
//! settings, interactive `claude` first asks "Detected a custom API key … use it?" with No as
//! the default, and Enter leaves the user not logged in (2.1.328 even goes on to the
//! claude.ai sign-in). An auth token gets no such question. The alternative, recording the
//! key's approval in `~/.claude.json` (`customApiKeyResponses`), would mean writing Claude
//! Code's own state file, in an undocumented format that it rewrites while it runs; the
//! token is a documented setting in the file conduit already manages. A conduit-written
//! `ANTHROPIC_API_KEY` from earlier versions is removed.

use std::collections::HashMap;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::output::{self, line, warn};
use super::probe::Probe;
use super::{api_key, claude_gateway, daemon, env, Outcome, Paths};

pub const BASE_URL: &str = "ANTHROPIC_BASE_URL";
/// What conduit writes the key as.
pub const AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
/// What earlier conduit versions wrote the key as; removed when it is conduit's.
pub const API_KEY: &str = "ANTHROPIC_API_KEY";
/// The context window Claude Code compacts against (it assumes 200K behind a gateway).
pub const COMPACT_WINDOW: &str = "CLAUDE_CODE_AUTO_COMPACT_WINDOW";
/// The range Claude Code accepts for [`COMPACT_WINDOW`].
const COMPACT_WINDOW_RANGE: (u32, u32) = (100_000, 1_000_000);
/// Claude Code's model when the settings name none (2.1.328 and later send `claude-opus-5-5`).
const CLAUDE_CODE_DEFAULT_MODEL: &str = "claude-opus-5-5";

/// Variables that route Claude Code to another provider, bypassing the gateway.
pub(super) const ROUTING_VARS: &[&str] = &[
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
    /// The `CLAUDE_CODE_AUTO_COMPACT_WINDOW` written, and where it came from.
    pub window: Window,
    /// A conduit-written `ANTHROPIC_API_KEY` was removed.
    pub removed_api_key: bool,
    /// `configure-claude --gateway`'s `apiKeyHelper` (and its TTL) was removed.
    pub removed_helper: bool,
}

/// The default model's context window, for [`COMPACT_WINDOW`].
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub model: String,
    pub tokens: u32,
    /// `"gateway"` (the running daemon's live catalogue) or `"built-in"` (the static table).
    pub source: &'static str,
}

impl Applied {
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path, "changed": self.changed, "backup": self.backup,
            "conflicts": self.conflicts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "auto_compact_window": self.window.tokens, "default_model": self.window.model,
            "window_source": self.window.source, "removed_api_key": self.removed_api_key,
            "removed_api_key_helper": self.removed_helper,
        })
    }

    pub fn print(&self, paths: &Paths) {
        let shown = paths.show(&self.path);
        if self.changed {
            line(format!(
                "Claude Code: wrote {BASE_URL}, {AUTH_TOKEN} and {COMPACT_WINDOW}={} ({} window \
                 of {}) to {shown}",
                self.window.tokens, self.window.source, self.window.model
            ));
            if self.removed_api_key {
                line(format!(
                    "  removed conduit's earlier {API_KEY}: with it, a first `claude` asks \
                     whether to use the key and defaults to No"
                ));
            }
            if self.removed_helper {
                line(format!(
                    "  removed {} and {} that `conduit configure-claude --gateway` wrote",
                    claude_gateway::API_KEY_HELPER,
                    claude_gateway::HELPER_TTL
                ));
            }
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

/// Write the settings, first backing up the file once (`existed`: there was one to back up);
/// returns the backup made now, if any.
pub(super) fn save(
    path: &Path,
    existed: bool,
    settings: &Map<String, Value>,
) -> anyhow::Result<Option<PathBuf>> {
    let bak = backup_path(path);
    let mut made = None;
    if existed && !bak.exists() {
        let original = std::fs::read(path)?;
        conduit_core::fsutil::write_private_atomic(&bak, &original)
            .with_context(|| format!("cannot write the backup {}", bak.display()))?;
        made = Some(bak);
    }
    write(path, settings)?;
    Ok(made)
}

/// Point Claude Code at `url` with `key`. Idempotent: nothing is written when nothing changes.
pub fn apply(paths: &Paths, url: &str, key: &str) -> anyhow::Result<Applied> {
    let path = settings_path(paths)?;
    let existing = read(&path)?;
    let mut settings = existing.clone().unwrap_or_default();
    let window = default_window(url, key, &settings);
    // Team gateway mode's helper would only fetch tokens for a gateway no longer used.
    let removed_helper = claude_gateway::take_helper(&mut settings);
    let env_map = env_object(&mut settings, &path)?;
    let tokens = window.tokens.to_string();
    let wanted = [
        (BASE_URL, url),
        (AUTH_TOKEN, key),
        (COMPACT_WINDOW, &tokens),
    ];
    let removed_api_key = env_map
        .get(API_KEY)
        .and_then(Value::as_str)
        .is_some_and(|k| is_conduit_key(k, Some(key)));
    let changed = removed_api_key
        || removed_helper
        || wanted
            .iter()
            .any(|(k, v)| env_map.get(*k).and_then(Value::as_str) != Some(v));
    let mut backup = None;
    if changed {
        if removed_api_key {
            env_map.remove(API_KEY);
        }
        for (k, v) in wanted {
            env_map.insert(k.to_string(), Value::String(v.to_string()));
        }
        backup = save(&path, existing.is_some(), &settings)?;
    }
    Ok(Applied {
        conflicts: conflicts(&settings, &format!("{} (env)", paths.show(&path)), url, key),
        path,
        changed,
        backup,
        window,
        removed_api_key,
        removed_helper,
    })
}

/// The settings' `env` object, made when absent; anything else there is refused.
pub(super) fn env_object<'a>(
    settings: &'a mut Map<String, Value>,
    path: &Path,
) -> anyhow::Result<&'a mut Map<String, Value>> {
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
    Ok(env_map)
}

/// A key conduit made (`sk-conduit-…`) or the gateway's current key.
fn is_conduit_key(value: &str, key: Option<&str>) -> bool {
    key == Some(value) || value.starts_with("sk-conduit-")
}

/// The model Claude Code uses by default under these settings: `env.ANTHROPIC_MODEL`, else the
/// `model` setting (aliases as Claude Code resolves them behind a gateway), else its default.
fn default_model(settings: &Map<String, Value>) -> String {
    let chosen = settings
        .get("env")
        .and_then(|e| e.get("ANTHROPIC_MODEL"))
        .or_else(|| settings.get("model"))
        .and_then(Value::as_str);
    let Some(model) = chosen else {
        return CLAUDE_CODE_DEFAULT_MODEL.into();
    };
    if model.contains("claude") {
        return model.to_string();
    }
    let suffix = model.find('[').map_or("", |i| &model[i..]);
    let base = match model.split('[').next().unwrap_or_default() {
        "sonnet" => "claude-sonnet-5-5",
        "haiku" => "claude-haiku-4-5",
        _ => CLAUDE_CODE_DEFAULT_MODEL,
    };
    format!("{base}{suffix}")
}

/// The default model's context window: from the running gateway (its live catalogue) when it
/// answers, else from conduit's built-in table; clamped to what Claude Code accepts.
pub fn default_window(url: &str, key: &str, settings: &Map<String, Value>) -> Window {
    let model = default_model(settings);
    let live = Probe::new()
        .ok()
        .and_then(|p| p.model_window(url, key, &model).ok());
    let (tokens, source) = match live {
        Some(t) => (t, "gateway"),
        None => (
            conduit_kiro::models::resolve_model(
                &model,
                &HashMap::new(),
                &conduit_kiro::models::ModelList::fallback(),
            )
            .context_window,
            "built-in",
        ),
    };
    Window {
        model,
        tokens: tokens.clamp(COMPACT_WINDOW_RANGE.0, COMPACT_WINDOW_RANGE.1),
        source,
    }
}

pub(super) fn truthy(v: &str) -> bool {
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
    if env(API_KEY).is_some() {
        found.push(Conflict {
            variable: API_KEY.into(),
            place: shell.into(),
            fix: format!(
                "{}: a first interactive `claude` asks whether to use it (default No), and it \
                 is sent besides conduit's key",
                unset(API_KEY)
            ),
        });
    }
    if env(BASE_URL).is_some_and(|v| v.trim_end_matches('/') != url) {
        found.push(Conflict {
            variable: BASE_URL.into(),
            place: shell.into(),
            fix: format!("{} so Claude Code talks to {url}", unset(BASE_URL)),
        });
    }
    if env(AUTH_TOKEN).is_some_and(|v| v != key) {
        found.push(Conflict {
            variable: AUTH_TOKEN.into(),
            place: shell.into(),
            fix: format!(
                "{}: Claude Code would send it instead of conduit's key",
                unset(AUTH_TOKEN)
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
    found.extend(managed_conflicts(url));
    found
}

/// The managed settings files that exist, each with its path: they win over the user's.
pub(super) fn managed_settings() -> Vec<(&'static str, Map<String, Value>)> {
    MANAGED_SETTINGS
        .iter()
        .filter_map(|p| Some((*p, read(Path::new(p)).ok()??)))
        .collect()
}

/// What managed settings set that sends Claude Code elsewhere than `url` or with another key.
pub(super) fn managed_conflicts(url: &str) -> Vec<Conflict> {
    managed_settings()
        .iter()
        .flat_map(|(p, m)| settings_conflicts(m, &format!("{p} (env)"), Some(url)))
        .collect()
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
    // In the user's settings the token is conduit's own; managed settings win over it.
    let foreign_keys: &[&str] = if url.is_some() {
        &[API_KEY, AUTH_TOKEN]
    } else {
        &[API_KEY]
    };
    for var in foreign_keys {
        if env_map.get(*var).is_some() {
            found.push(Conflict {
                variable: (*var).into(),
                place: place.into(),
                fix: format!(
                    "remove it from {place}: Claude Code would send it besides or instead of \
                     conduit's key{}",
                    if *var == API_KEY {
                        ", and a first interactive `claude` asks whether to use it (default No)"
                    } else {
                        ""
                    }
                ),
            });
        }
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

/// Remove what conduit wrote, keeping every other key: its key and the loopback base URL next
/// to it, or `configure-claude --gateway`'s helper, its TTL and the gateway URL written with
/// them. A settings file conduit created and that holds nothing else is deleted.
pub fn unconfigure(paths: &Paths, key: Option<&str>) -> anyhow::Result<bool> {
    let path = settings_path(paths)?;
    let Some(mut settings) = read(&path)? else {
        return Ok(false);
    };
    let helper = claude_gateway::take_helper(&mut settings);
    let personal = match settings.get_mut("env") {
        Some(Value::Object(env_map)) => {
            if helper {
                env_map.remove(BASE_URL);
            }
            let personal = take_personal(env_map, key);
            if env_map.is_empty() {
                settings.remove("env");
            }
            personal
        }
        _ => false,
    };
    if !helper && !personal {
        return Ok(false);
    }
    if settings.is_empty() && !backup_path(&path).exists() {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    } else {
        write(&path, &settings)?;
    }
    Ok(true)
}

/// Remove the personal gateway's key (when it is conduit's), the window written with it and a
/// loopback base URL. Returns whether the key was there.
fn take_personal(env_map: &mut Map<String, Value>, key: Option<&str>) -> bool {
    let ours: Vec<&str> = [AUTH_TOKEN, API_KEY]
        .into_iter()
        .filter(|var| {
            env_map
                .get(*var)
                .and_then(Value::as_str)
                .is_some_and(|k| is_conduit_key(k, key))
        })
        .collect();
    if ours.is_empty() {
        return false;
    }
    for var in ours {
        env_map.remove(var);
    }
    // Written together with the token, so it goes with it.
    env_map.remove(COMPACT_WINDOW);
    if env_map
        .get(BASE_URL)
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with("http://127.0.0.1:") || u.starts_with("http://[::1]:"))
    {
        env_map.remove(BASE_URL);
    }
    true
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
