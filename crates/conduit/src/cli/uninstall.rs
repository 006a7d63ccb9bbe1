//! `uninstall [--purge]`: stop the daemon, remove autostart and the installed binary, undo or
//! restore Claude Code's settings, and with `--purge` delete `$CONDUIT_HOME` entirely.

use anyhow::{bail, Context};
use serde_json::json;

use super::output::{self, line, note};
use super::{api_key, autostart, claude_settings, confirm, daemon, Outcome, Paths};

pub struct Options {
    pub purge: bool,
    /// `Some(true)`: restore the settings backup; `Some(false)`: only remove conduit's entries;
    /// `None`: ask on a terminal (default: remove conduit's entries).
    pub restore_settings: Option<bool>,
    pub no_activate: bool,
    pub json: bool,
}

pub fn run(paths: &Paths, opts: &Options) -> Outcome {
    if opts.purge {
        check_purgeable(paths)?;
    }
    let mut done: Vec<String> = Vec::new();
    if paths.home.exists() && daemon::stop_quietly(paths)? {
        done.push("stopped the daemon".into());
    }
    for p in autostart::remove(paths, opts.no_activate)? {
        done.push(format!("removed autostart {}", paths.show(&p)));
    }
    done.extend(settings(paths, opts)?);
    let bin = paths.bin_dir()?.join("conduit");
    if bin.exists() {
        std::fs::remove_file(&bin).with_context(|| format!("cannot remove {}", bin.display()))?;
        done.push(format!("removed {}", paths.show(&bin)));
    }
    if opts.purge && paths.home.exists() {
        std::fs::remove_dir_all(&paths.home)
            .with_context(|| format!("cannot delete {}", paths.home.display()))?;
        done.push(format!("deleted {}", paths.show(&paths.home)));
    }
    if opts.json {
        output::json(&json!({"done": done, "purged": opts.purge}));
        return super::ok();
    }
    for d in &done {
        line(d);
    }
    if !opts.purge && paths.home.exists() {
        note(format!(
            "kept {} (credentials, logs, source); delete it with `rm -rf {}`",
            paths.show(&paths.home),
            paths.home.display()
        ));
    }
    line("conduit is uninstalled");
    super::ok()
}

/// Restore the backup, or remove only conduit's entries.
fn settings(paths: &Paths, opts: &Options) -> anyhow::Result<Vec<String>> {
    let path = claude_settings::settings_path(paths)?;
    let backup = claude_settings::backup_path(&path);
    let restore = backup.exists()
        && opts.restore_settings.unwrap_or_else(|| {
            confirm(
                &format!(
                    "Restore {} from {} (the copy made before conduit first changed it)?",
                    paths.show(&path),
                    paths.show(&backup)
                ),
                false,
            )
        });
    if restore {
        claude_settings::restore_backup(paths)?;
        return Ok(vec![format!(
            "restored {} from its backup",
            paths.show(&path)
        )]);
    }
    let key = if paths.api_key().exists() || super::env("PROXY_API_KEY").is_some() {
        api_key::current(paths).ok()
    } else {
        None
    };
    let mut done = Vec::new();
    if claude_settings::unconfigure(paths, key.as_deref())? {
        done.push(format!(
            "removed conduit's entries from {}",
            paths.show(&path)
        ));
    }
    if backup.exists() {
        note(format!(
            "kept {}; restore it with `mv {} {}`",
            paths.show(&backup),
            backup.display(),
            path.display()
        ));
    }
    Ok(done)
}

/// Refuse to delete a directory that is not plainly conduit's.
fn check_purgeable(paths: &Paths) -> anyhow::Result<()> {
    let home = &paths.home;
    let is_root = home.parent().is_none();
    let is_user_home = paths.user_home.as_deref() == Some(home.as_path());
    let known = ["api-key", "run", "data", "logs", "src"];
    let only_ours = std::fs::read_dir(home).is_ok_and(|d| {
        d.flatten()
            .all(|e| known.iter().any(|k| e.file_name() == *k))
    });
    let looks_ours = home.file_name().is_some_and(|n| n == ".conduit") || only_ours;
    if is_root || is_user_home || !looks_ours {
        bail!(
            "refusing to delete {}: it does not look like a conduit home (CONDUIT_HOME). Delete \
             what you want removed by hand",
            home.display()
        );
    }
    Ok(())
}
