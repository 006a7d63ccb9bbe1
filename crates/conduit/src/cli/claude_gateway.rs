//! `conduit configure-claude --gateway URL [--profile NAME]`: point Claude Code at a team gateway
//! with `conduit token` as its `apiKeyHelper`, so no key is ever written into the settings.
//!
//! Reads, writes and backs up `~/.claude/settings.json` through [`claude_settings`]; what is
//! particular here is what gets written (the helper, the gateway URL, the helper's TTL from the
//! token profile's lifetime) and what gets removed: every `env` entry Claude Code would use
//! instead of the helper (a key, a token) or that sends it around the gateway (Bedrock, Vertex,
//! Foundry). Those are the user's own, so they are named in the output and kept in the backup.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::claude_settings::{self as settings, Conflict, API_KEY, AUTH_TOKEN, BASE_URL};
use super::output::{self, line, note, warn};
use super::token::{self, profile::profile_flag, DEFAULT_PROFILE};
use super::{env, Outcome, Paths};

/// The top-level setting naming the command Claude Code runs for a key.
pub const API_KEY_HELPER: &str = "apiKeyHelper";
/// How long Claude Code keeps the helper's answer before running it again.
pub const HELPER_TTL: &str = "CLAUDE_CODE_API_KEY_HELPER_TTL_MS";
/// The lifetime assumed before the profile's first sign-in (the gateway's default, 1 h).
const DEFAULT_LIFETIME_SECS: u64 = 3600;
/// `env` entries that win over `apiKeyHelper` or send Claude Code around the gateway, besides
/// the `CLAUDE_CODE_SKIP_*_AUTH` family (see [`bypasses`]).
const BYPASSING: &[&str] = &[
    AUTH_TOKEN,
    API_KEY,
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
];

fn bypasses(var: &str) -> bool {
    BYPASSING.contains(&var) || (var.starts_with("CLAUDE_CODE_SKIP_") && var.ends_with("_AUTH"))
}

/// What [`apply`] did.
#[derive(Debug)]
pub struct Applied {
    pub path: PathBuf,
    pub changed: bool,
    pub backup: Option<PathBuf>,
    pub gateway: String,
    pub profile: String,
    pub helper: String,
    pub ttl_ms: u64,
    /// The profile's token lifetime; `None` before its first `conduit token login`.
    pub lifetime_secs: Option<u64>,
    /// `env` entries removed because they would bypass the helper or the gateway.
    pub removed: Vec<String>,
    /// The user's own `apiKeyHelper` this one replaced.
    pub replaced_helper: Option<String>,
    pub conflicts: Vec<Conflict>,
}

impl Applied {
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path, "changed": self.changed, "backup": self.backup,
            "gateway": self.gateway, "profile": self.profile, "api_key_helper": self.helper,
            "helper_ttl_ms": self.ttl_ms, "lifetime_secs": self.lifetime_secs,
            "signed_in": self.lifetime_secs.is_some(), "removed": self.removed,
            "replaced_api_key_helper": self.replaced_helper,
            "conflicts": self.conflicts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }

    pub fn print(&self, paths: &Paths) {
        let shown = paths.show(&self.path);
        if self.changed {
            line(format!(
                "Claude Code: wrote {API_KEY_HELPER} `{}`, {BASE_URL}={} and {HELPER_TTL}={} to \
                 {shown}",
                self.helper, self.gateway, self.ttl_ms
            ));
        } else {
            line(format!(
                "Claude Code: already configured for {} ({shown})",
                self.gateway
            ));
        }
        if let Some(old) = &self.replaced_helper {
            line(format!("  replaced your {API_KEY_HELPER} `{old}`"));
        }
        if !self.removed.is_empty() {
            line(format!(
                "  removed {}: Claude Code would use them instead of the helper or go around \
                 the gateway",
                self.removed.join(", ")
            ));
        }
        if let Some(b) = &self.backup {
            line(format!(
                "  your previous settings are saved in {}",
                paths.show(b)
            ));
        }
        if self.lifetime_secs.is_none() {
            note(format!(
                "profile {} is not signed in yet: run `{}`",
                self.profile,
                login_command(&self.gateway, &self.profile)
            ));
        }
        for c in &self.conflicts {
            warn(c.to_string());
        }
    }
}

fn login_command(gateway: &str, profile: &str) -> String {
    format!(
        "conduit token login --gateway {gateway}{}",
        profile_flag(profile)
    )
}

/// The gateway's base URL as Claude Code should get it: http(s) with a host, plain http only
/// to this machine (Claude Code refuses it elsewhere), no credentials, query or fragment; the
/// trailing `/` dropped.
pub fn gateway_url(raw: &str) -> anyhow::Result<String> {
    let refuse = |why: &str| -> anyhow::Result<String> {
        bail!("--gateway {raw}: {why} (the team gateway's base URL, e.g. https://gw.example.internal:8765)")
    };
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return refuse("not a URL");
    };
    if !matches!(url.scheme(), "https" | "http") {
        return refuse("the scheme must be https (or http to this machine)");
    }
    let loopback = match url.host() {
        None => return refuse("the URL has no host"),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    };
    if url.scheme() == "http" && !loopback {
        return refuse(
            "plain http is only for a gateway on this machine (Claude Code refuses it \
             elsewhere); use https",
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("credentials do not belong in the URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return refuse("a base URL has no query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `lifetime − min(5 min, lifetime/12)` in milliseconds: Claude Code asks again shortly before
/// the token expires, and the helper's own margin (≤ 5 min, lifetime/10) has then refreshed it.
pub fn helper_ttl_ms(lifetime_secs: u64) -> u64 {
    (lifetime_secs - (lifetime_secs / 12).min(300)).saturating_mul(1000)
}

/// The command Claude Code runs: `conduit token --profile NAME` when `conduit` on `PATH` is
/// this binary, else this binary's absolute path, quoted for `/bin/sh`.
pub fn helper_command(profile: &str) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the conduit executable")?;
    let program = if is_on_path(&exe) {
        "conduit".to_string()
    } else {
        let Some(text) = exe.to_str() else {
            bail!(
                "the path of this conduit ({}) is not UTF-8, which Claude Code's settings \
                 cannot hold; install conduit elsewhere or put it on PATH",
                exe.display()
            );
        };
        sh_quote(text)
    };
    Ok(format!("{program} token --profile {profile}"))
}

/// Whether `conduit`, as `/bin/sh` would find it on `PATH`, is `exe`.
fn is_on_path(exe: &Path) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    let found = std::env::split_paths(&path)
        .map(|d| d.join("conduit"))
        .find(|p| is_executable(p));
    let same = |p: &Path| std::fs::canonicalize(p).ok();
    found.is_some_and(|f| same(&f).is_some() && same(&f) == same(exe))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Characters `/bin/sh` takes literally in a word.
fn sh_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c)
}

/// `s` as one `/bin/sh` word: as is when plain, else in single quotes (`'` as `'\''`).
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(sh_plain) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The inverse of [`sh_quote`] for one word; `None` for anything else.
fn sh_unquote(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            let end = rest[1..].find('\'')? + 1;
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
        } else if let Some(r) = rest.strip_prefix(r"\'") {
            out.push('\'');
            rest = r;
        } else if sh_plain(c) {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether an `apiKeyHelper` is one [`helper_command`] wrote (for this binary or another
/// conduit), so that it may be removed.
pub fn is_conduit_helper(helper: &str) -> bool {
    let Some((program, profile)) = helper.split_once(" token --profile ") else {
        return false;
    };
    if token::validate_profile_name(profile).is_err() {
        return false;
    }
    let Some(program) = sh_unquote(program) else {
        return false;
    };
    let program = Path::new(&program);
    program == Path::new("conduit")
        || (program.is_absolute()
            && (program.file_name().is_some_and(|n| n == "conduit")
                || std::env::current_exe().is_ok_and(|e| e == program)))
}

/// Remove a conduit `apiKeyHelper` and its TTL; returns whether there was one.
pub fn take_helper(settings: &mut Map<String, Value>) -> bool {
    let ours = settings
        .get(API_KEY_HELPER)
        .and_then(Value::as_str)
        .is_some_and(is_conduit_helper);
    if ours {
        settings.remove(API_KEY_HELPER);
        if let Some(Value::Object(env_map)) = settings.get_mut("env") {
            env_map.remove(HELPER_TTL);
        }
    }
    ours
}

/// Point Claude Code at the team gateway `url` with `conduit token --profile NAME`. Idempotent:
/// nothing is written when nothing changes.
pub fn apply(paths: &Paths, url: &str, profile: &str) -> anyhow::Result<Applied> {
    let helper = helper_command(profile)?;
    let lifetime_secs = token::profile_lifetime(paths, profile)?;
    let ttl_ms = helper_ttl_ms(lifetime_secs.unwrap_or(DEFAULT_LIFETIME_SECS));
    let path = settings::settings_path(paths)?;
    let existing = settings::read(&path)?;
    let mut new = existing.clone().unwrap_or_default();
    let replaced_helper = new
        .get(API_KEY_HELPER)
        .and_then(Value::as_str)
        .filter(|h| *h != helper && !is_conduit_helper(h))
        .map(str::to_string);
    new.insert(API_KEY_HELPER.into(), Value::String(helper.clone()));
    let env_map = settings::env_object(&mut new, &path)?;
    let mut removed: Vec<String> = env_map.keys().filter(|k| bypasses(k)).cloned().collect();
    removed.sort();
    for k in &removed {
        env_map.remove(k);
    }
    env_map.insert(BASE_URL.into(), Value::String(url.into()));
    env_map.insert(HELPER_TTL.into(), Value::String(ttl_ms.to_string()));
    let changed = existing.as_ref() != Some(&new);
    let backup = if changed {
        settings::save(&path, existing.is_some(), &new)?
    } else {
        None
    };
    Ok(Applied {
        conflicts: conflicts(url, &helper),
        path,
        changed,
        backup,
        gateway: url.into(),
        profile: profile.into(),
        helper,
        ttl_ms,
        lifetime_secs,
        removed,
        replaced_helper,
    })
}

/// Shell variables and managed settings that win over the helper or the gateway.
fn conflicts(url: &str, helper: &str) -> Vec<Conflict> {
    let shell = "your shell environment";
    let unset = |v: &str, why: &str| Conflict {
        variable: v.into(),
        place: shell.into(),
        fix: format!("unset {v} (and remove it from your shell profile): {why}"),
    };
    let mut found = Vec::new();
    for var in [API_KEY, AUTH_TOKEN] {
        if env(var).is_some() {
            found.push(unset(
                var,
                "Claude Code sends it instead of asking `conduit token`",
            ));
        }
    }
    if env(BASE_URL).is_some_and(|v| v.trim_end_matches('/') != url) {
        found.push(unset(
            BASE_URL,
            &format!("Claude Code should talk to {url}"),
        ));
    }
    for var in settings::ROUTING_VARS {
        if env(var).is_some_and(|v| settings::truthy(&v)) {
            found.push(unset(var, "it sends Claude Code around the gateway"));
        }
    }
    found.extend(settings::managed_conflicts(url));
    for (place, managed) in settings::managed_settings() {
        if managed
            .get(API_KEY_HELPER)
            .and_then(Value::as_str)
            .is_some_and(|h| h != helper)
        {
            found.push(Conflict {
                variable: API_KEY_HELPER.into(),
                place: place.into(),
                fix: format!(
                    "managed settings win over yours; ask your administrator to set it to \
                     `{helper}` or remove it"
                ),
            });
        }
    }
    found
}

/// `conduit configure-claude --gateway URL [--profile NAME]`.
pub fn run(paths: &Paths, gateway: &str, profile: Option<&str>, json: bool) -> Outcome {
    let url = gateway_url(gateway)?;
    let profile = profile
        .map(str::to_string)
        .or_else(|| env("CONDUIT_TOKEN_PROFILE"))
        .unwrap_or_else(|| DEFAULT_PROFILE.into());
    token::validate_profile_name(&profile)?;
    let applied = apply(paths, &url, &profile)?;
    if json {
        output::json(&applied.to_json());
        for c in &applied.conflicts {
            warn(c.to_string());
        }
    } else {
        applied.print(paths);
    }
    super::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quote_survives_sh_and_unquotes_back() {
        for s in [
            "/usr/local/bin/conduit",
            "/home/a b/conduit",
            "/tmp/it's/conduit",
            "/x/$(rm -rf ~)/`id`/\"q\"/conduit",
            "/x/;&|<>*?[]{}~#!/conduit",
        ] {
            let quoted = sh_quote(s);
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {quoted}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s, "{quoted}");
            assert_eq!(sh_unquote(&quoted).as_deref(), Some(s), "{quoted}");
        }
        assert_eq!(sh_quote("/usr/bin/conduit"), "/usr/bin/conduit");
    }

    #[test]
    fn conduit_helpers_are_recognised_and_others_are_not() {
        for (helper, ours) in [
            ("conduit token --profile default", true),
            ("/opt/bin/conduit token --profile team-a.1", true),
            ("'/home/a b/conduit' token --profile x", true),
            ("conduit token --profile ../x y", false),
            ("conduit token", false),
            ("/opt/bin/other token --profile default", false),
            ("my-helper.sh", false),
            ("echo sk-ant; conduit token --profile default", false),
        ] {
            assert_eq!(is_conduit_helper(helper), ours, "{helper}");
        }
    }

    #[test]
    fn ttl_is_just_under_the_lifetime() {
        for (lifetime, ttl) in [
            (3600, 3_300_000),
            (320, 294_000),
            (7200, 6_900_000),
            (60, 55_000),
        ] {
            assert_eq!(helper_ttl_ms(lifetime), ttl, "{lifetime}");
        }
    }
}
