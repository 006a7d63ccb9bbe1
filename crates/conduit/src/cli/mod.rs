//! The `conduit` command line: the daemon's lifecycle, Claude Code's settings, autostart,
//! diagnostics. `main.rs` parses and dispatches; each command lives in its own file here.

pub mod accounts;
pub mod api_key;
pub mod autostart;
pub mod claude_gateway;
pub mod claude_settings;
pub mod daemon;
pub mod doctor;
pub mod login;
pub mod logs;
pub mod output;
pub mod probe;
pub mod procs;
pub mod status;
pub mod team;
pub mod token;
pub mod uninstall;
pub mod update;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;

/// Exit codes, documented in `conduit --help` and docs/configuration.md.
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// The command failed; the message says why and what to do.
    pub const FAILED: u8 = 1;
    /// `status`: the daemon is not running (LSB convention).
    pub const NOT_RUNNING: u8 = 3;
    /// `status`: running but unhealthy; `doctor`: at least one check failed.
    pub const UNHEALTHY: u8 = 4;
}

pub type Outcome = anyhow::Result<ExitCode>;

pub fn ok() -> Outcome {
    Ok(ExitCode::from(exit::OK))
}

/// Where conduit keeps everything (`CONDUIT_HOME`, default `~/.conduit`), and the few paths
/// outside it that it touches.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    pub user_home: Option<PathBuf>,
}

impl Paths {
    pub fn from_env() -> anyhow::Result<Self> {
        let home = conduit::config::home_dir(&env).map_err(|e| anyhow!(e))?;
        Ok(Self {
            home,
            user_home: env("HOME").map(PathBuf::from),
        })
    }
    pub fn src(&self) -> PathBuf {
        self.home.join("src")
    }
    pub fn logs(&self) -> PathBuf {
        self.home.join("logs")
    }
    pub fn log_file(&self) -> PathBuf {
        self.logs().join("gateway.log")
    }
    pub fn run(&self) -> PathBuf {
        self.home.join("run")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.run().join("pid")
    }
    pub fn port_file(&self) -> PathBuf {
        self.run().join("port")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.run().join("lock")
    }
    pub fn api_key(&self) -> PathBuf {
        self.home.join("api-key")
    }
    /// Where install.sh puts the binary.
    pub fn bin_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.require_user_home()?.join(".local").join("bin"))
    }
    pub fn require_user_home(&self) -> anyhow::Result<PathBuf> {
        self.user_home
            .clone()
            .ok_or_else(|| anyhow!("HOME is not set: conduit needs it to find your settings"))
    }
    /// `~/.claude` (or `CLAUDE_CONFIG_DIR`, which Claude Code honours too).
    pub fn claude_dir(&self) -> anyhow::Result<PathBuf> {
        match env("CLAUDE_CONFIG_DIR") {
            Some(d) => Ok(PathBuf::from(d)),
            None => Ok(self.require_user_home()?.join(".claude")),
        }
    }
    /// A path for people: `~/...` when under HOME.
    pub fn show(&self, path: &std::path::Path) -> String {
        if let Some(h) = &self.user_home {
            if let Ok(rest) = path.strip_prefix(h) {
                return format!("~/{}", rest.display());
            }
        }
        path.display().to_string()
    }
}

/// An environment variable, treating empty as unset.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Ask a yes/no question on the terminal; `default` when stdin is not a terminal.
pub fn confirm(question: &str, default: bool) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return default;
    }
    let hint = if default { "[Y/n]" } else { "[y/N]" };
    eprint!("{question} {hint} ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return default;
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "" => default,
        a => a.starts_with('y'),
    }
}
