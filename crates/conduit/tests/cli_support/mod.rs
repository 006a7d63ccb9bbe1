//! Shared set-up for the CLI tests: a temporary HOME and CONDUIT_HOME, the real `conduit`
//! binary run with a clean environment, and (optionally) a simulated Kiro with one account.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

pub const PROFILE_ARN: &str = "arn:aws:codewhisperer:us-east-1:123456789012:profile/X";

/// Variables from the developer's shell that would change what the CLI sees.
const SCRUBBED: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CONFIG_DIR",
    "CONDUIT_PORT",
    "CONDUIT_HOST",
    "PROXY_API_KEY",
    "KIRO_CREDS_FILE",
    "KIRO_REFRESH_TOKEN",
    "KIRO_CLI_DB_FILE",
    "PROFILE_ARN",
    "XDG_CONFIG_HOME",
    "DISPLAY",
    "WAYLAND_DISPLAY",
];

pub struct CliEnv {
    pub root: PathBuf,
    pub home: PathBuf,
    pub conduit_home: PathBuf,
    pub extra: Vec<(String, String)>,
    /// With [`CliEnv::with_kiro`]: the simulator's URL and the account's access token.
    pub sim_url: Option<String>,
    pub access_token: Option<String>,
    _sim: Option<conduit_sim::SimHandle>,
}

impl CliEnv {
    /// A temporary HOME with no credentials.
    pub fn new() -> Self {
        let root =
            std::env::temp_dir().join(format!("conduit-cli-{}", uuid::Uuid::new_v4().simple()));
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let conduit_home = home.join(".conduit");
        Self {
            root,
            home,
            conduit_home,
            extra: vec![("CONDUIT_SHUTDOWN_GRACE".into(), "2".into())],
            sim_url: None,
            access_token: None,
            _sim: None,
        }
    }

    /// A temporary HOME whose gateway will find a healthy simulated Kiro account.
    pub async fn with_kiro() -> Self {
        let mut env = Self::new();
        let sim = conduit_sim::Sim::start(conduit_sim::SimConfig::default())
            .await
            .unwrap();
        let base = sim.base_url().to_string();
        let n = uuid::Uuid::new_v4().simple().to_string();
        let (access, refresh) = (
            format!("access-{n}"),
            format!("refresh-{n}-{}", "r".repeat(100)),
        );
        let r = reqwest::Client::new()
            .post(format!("{base}/_sim/accounts"))
            .json(
                &json!({"access_token": access, "refresh_token": refresh, "expires_in": 3600,
                "profile_arn": PROFILE_ARN, "kind": "social"}),
            )
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "sim refused the account: {}",
            r.status()
        );
        let expires = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let creds = env.root.join("kiro-auth-token.json");
        std::fs::write(
            &creds,
            json!({"accessToken": access, "refreshToken": refresh, "expiresAt": expires,
                "profileArn": PROFILE_ARN, "authMethod": "social", "region": "us-east-1"})
            .to_string(),
        )
        .unwrap();
        for (k, v) in [
            ("CONDUIT_KIRO_API_URL", base.clone()),
            ("CONDUIT_KIRO_AUTH_URL", base.clone()),
            ("CONDUIT_SSO_OIDC_URL", base),
            ("KIRO_CREDS_FILE", creds.display().to_string()),
        ] {
            env.extra.push((k.into(), v));
        }
        env.sim_url = Some(sim.base_url().to_string());
        env.access_token = Some(access);
        env._sim = Some(sim);
        env
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.extra.push((key.into(), value.into()));
    }

    /// `conduit <args>` with this HOME and a clean environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_conduit"));
        c.args(args);
        for k in SCRUBBED {
            c.env_remove(k);
        }
        c.env("HOME", &self.home)
            .env("CONDUIT_HOME", &self.conduit_home)
            .env("CONDUIT_NO_BROWSER", "1")
            .env("CONDUIT_PORT", "0");
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    /// Run and insist on success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "conduit {args:?} failed:\n{r}");
        r
    }

    pub fn settings_path(&self) -> PathBuf {
        self.home.join(".claude").join("settings.json")
    }

    pub fn settings(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.settings_path()).unwrap()).unwrap()
    }

    pub fn pid(&self) -> Option<i32> {
        read_trimmed(&self.conduit_home.join("run/pid"))?
            .parse()
            .ok()
    }

    pub fn port(&self) -> Option<u16> {
        read_trimmed(&self.conduit_home.join("run/port"))?
            .parse()
            .ok()
    }

    pub fn key(&self) -> String {
        read_trimmed(&self.conduit_home.join("api-key")).unwrap()
    }

    pub fn status_json(&self) -> (i32, Value) {
        let r = self.run(&["status", "--json"]);
        (
            r.code,
            serde_json::from_str(&r.stdout).unwrap_or(Value::Null),
        )
    }
}

impl Drop for CliEnv {
    fn drop(&mut self) {
        // Never leave a daemon behind, whatever the test did.
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Is `pid` a live (non-zombie) process?
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z')),
        Err(_) => false,
    }
}

pub fn wait_dead(pid: i32) {
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("process {pid} is still alive");
}

/// Every regular file below `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
