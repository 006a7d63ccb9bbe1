//! `start`, `stop`, `restart`: the gateway as a background daemon. One lock file serialises
//! them, so two `start`s at once give one daemon; stale PID files are recognised and removed.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use super::output::{self, line, note};
use super::probe::{Health, Probe};
use super::{api_key, claude_settings, env, logs, procs, Outcome, Paths};

/// How long `start` waits for `/health` to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub no_configure_claude: bool,
    pub json: bool,
}

/// What the run files say about the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonState {
    Running {
        pid: i32,
        port: Option<u16>,
    },
    /// A PID file whose process is gone (killed, crashed, machine rebooted).
    Stale {
        pid: i32,
    },
    Stopped,
}

pub fn state(paths: &Paths) -> DaemonState {
    let Some(pid) = read_number::<i32>(&paths.pid_file()) else {
        return DaemonState::Stopped;
    };
    if procs::is_conduit_daemon(pid) {
        DaemonState::Running {
            pid,
            port: read_number(&paths.port_file()),
        }
    } else {
        DaemonState::Stale { pid }
    }
}

fn read_number<T: std::str::FromStr>(path: &std::path::Path) -> Option<T> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn remove_run_files(paths: &Paths) {
    let _ = std::fs::remove_file(paths.pid_file());
    let _ = std::fs::remove_file(paths.port_file());
}

/// The URL clients use for a daemon on `port`; a wildcard listen address is reached on loopback.
pub fn base_url(host: IpAddr, port: u16) -> String {
    let host = if host.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host
    };
    format!("http://{}", SocketAddr::new(host, port))
}

/// The gateway config as `serve` will see it (flags win over the environment).
pub fn gateway_config(
    host: Option<String>,
    port: Option<u16>,
) -> anyhow::Result<conduit::config::GatewayConfig> {
    conduit::config::from_env(&env, host, port).map_err(|e| anyhow!(e))
}

/// The URL of the running daemon, else of the configured port.
pub fn current_url(paths: &Paths) -> anyhow::Result<String> {
    let config = gateway_config(None, None)?;
    let port = match state(paths) {
        DaemonState::Running { port: Some(p), .. } => p,
        _ if config.port != 0 => config.port,
        _ => bail!("conduit is not running and CONDUIT_PORT is 0: run `conduit start` first"),
    };
    Ok(base_url(config.host, port))
}

/// Hold `run/lock` until the returned file is dropped.
fn lock(paths: &Paths) -> anyhow::Result<File> {
    let run = paths.run();
    std::fs::create_dir_all(&run).with_context(|| format!("cannot create {}", run.display()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(paths.lock_file())
        .with_context(|| format!("cannot open {}", paths.lock_file().display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock {}", paths.lock_file().display()))?;
    Ok(file)
}

pub fn start(paths: &Paths, opts: &StartOptions) -> Outcome {
    let _lock = lock(paths)?;
    start_locked(paths, opts)
}

fn start_locked(paths: &Paths, opts: &StartOptions) -> Outcome {
    let config = gateway_config(opts.host.clone(), opts.port)?;
    let (what, pid, port, health) = match state(paths) {
        DaemonState::Running {
            pid,
            port: Some(port),
        } => {
            let health = Probe::new()?.health(&base_url(config.host, port)).ok();
            ("already_running", pid, port, health)
        }
        other => {
            if let DaemonState::Stale { pid } = other {
                note(format!(
                    "removed a stale PID file: process {pid} is gone (killed or crashed)"
                ));
            }
            remove_run_files(paths);
            if config.port != 0 {
                check_port_free(config.host, config.port)?;
            }
            let (pid, port, health) = spawn_and_wait(paths, &config)?;
            ("started", pid, port, Some(health))
        }
    };
    let url = base_url(config.host, port);
    let claude = if opts.no_configure_claude {
        None
    } else {
        let key = api_key::current(paths)?;
        Some(claude_settings::apply(paths, &url, &key)?)
    };
    let credentials = health.as_ref().map(|h| h.body["upstream"].clone());
    let has_creds = credentials
        .as_ref()
        .is_some_and(|c| c["source"].as_str().is_some());
    if opts.json {
        output::json(&json!({
            "status": what, "pid": pid, "port": port, "url": url,
            "healthy": health.as_ref().is_some_and(Health::healthy),
            "credentials": credentials,
            "claude_settings": claude.as_ref().map(claude_settings::Applied::to_json),
        }));
    } else {
        match what {
            "started" => line(format!("conduit started: {url} (pid {pid})")),
            _ => line(format!("conduit is already running: {url} (pid {pid})")),
        }
        if let Some(applied) = &claude {
            applied.print(paths);
        }
    }
    if !has_creds {
        no_credentials_hint(&url);
    }
    super::ok()
}

fn no_credentials_hint(url: &str) {
    let login = format!("{url}/login");
    note(format!(
        "no Kiro credentials yet: sign in at {login} (or run `conduit login`), or set \
         KIRO_CREDS_FILE to a Kiro IDE token file and run `conduit restart`"
    ));
    if open_browser(&login) {
        note(format!("opened {login} in your browser"));
    }
}

/// Open `url` when a browser can be shown and `CONDUIT_NO_BROWSER` is unset.
fn open_browser(url: &str) -> bool {
    if env("CONDUIT_NO_BROWSER").is_some() {
        return false;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some() {
        "xdg-open"
    } else {
        return false;
    };
    Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}

fn check_port_free(host: IpAddr, port: u16) -> anyhow::Result<()> {
    match std::net::TcpListener::bind(SocketAddr::new(host, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let holder = match procs::port_holder(port) {
                Some(p) if procs::is_conduit_daemon(p.pid) => {
                    format!("it is held by another conduit daemon, {p} (a different CONDUIT_HOME?)")
                }
                Some(p) => format!("it is held by {p}"),
                None => "the process holding it could not be identified (it may belong to \
                         another user)"
                    .into(),
            };
            bail!(
                "port {port} on {host} is already in use: {holder}. Stop that program, or \
                 choose another port with `conduit start --port N` or CONDUIT_PORT"
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot listen on {host}:{port}")),
    }
}

fn spawn_and_wait(
    paths: &Paths,
    config: &conduit::config::GatewayConfig,
) -> anyhow::Result<(i32, u16, Health)> {
    let exe = std::env::current_exe().context("cannot find the conduit executable")?;
    let log_start = std::fs::metadata(paths.log_file())
        .map(|m| m.len())
        .unwrap_or(0);
    let mut child = Command::new(&exe)
        .args(["serve", "--host", &config.host.to_string()])
        .args(["--port", &config.port.to_string()])
        .env("CONDUIT_HOME", &paths.home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C in this terminal must not reach the daemon.
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {} serve", exe.display()))?;
    match wait_ready(paths, &mut child) {
        Ok(ready) => Ok(ready),
        Err(e) => {
            let tail = logs::lines_since(&paths.log_file(), log_start, 20);
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!(
                    "\nlast lines of {}:\n{}",
                    paths.log_file().display(),
                    tail.join("\n")
                )
            };
            Err(anyhow!("{e:#}{tail}"))
        }
    }
}

fn wait_ready(paths: &Paths, child: &mut Child) -> anyhow::Result<(i32, u16, Health)> {
    let pid = i32::try_from(child.id()).context("child pid out of range")?;
    let probe = Probe::new()?;
    let config = gateway_config(None, None)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            remove_run_files(paths);
            bail!("the gateway exited at start ({status})");
        }
        let ours = read_number::<i32>(&paths.pid_file()) == Some(pid);
        if let (true, Some(port)) = (ours, read_number::<u16>(&paths.port_file())) {
            if let Ok(health) = probe.health(&base_url(config.host, port)) {
                return Ok((pid, port, health));
            }
        }
        if Instant::now() > deadline {
            let _ = procs::terminate(pid);
            bail!(
                "the gateway did not answer /health within {} s; stopped it",
                START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What `stop` found and did.
#[derive(Debug)]
pub enum Stopped {
    NotRunning { stale: Option<i32> },
    Stopped { pid: i32, forced: bool },
}

pub fn stop(paths: &Paths, timeout: Option<Duration>, json: bool) -> Outcome {
    let _lock = lock(paths)?;
    let result = stop_locked(paths, timeout)?;
    report_stop(&result, json);
    super::ok()
}

fn report_stop(result: &Stopped, json: bool) {
    let value = match result {
        Stopped::NotRunning { stale } => {
            if !json {
                line("conduit is not running; nothing to stop");
                if let Some(pid) = stale {
                    note(format!(
                        "removed a stale PID file (process {pid} was already gone)"
                    ));
                }
            }
            json!({"status": "not_running", "stale_pid": stale})
        }
        Stopped::Stopped { pid, forced } => {
            if !json {
                line(format!("conduit stopped (pid {pid})"));
                if *forced {
                    note("it did not exit within the grace period and was killed (SIGKILL)");
                }
            }
            json!({"status": "stopped", "pid": pid, "forced": forced})
        }
    };
    if json {
        output::json(&value);
    }
}

fn stop_locked(paths: &Paths, timeout: Option<Duration>) -> anyhow::Result<Stopped> {
    let pid = match state(paths) {
        DaemonState::Stopped => return Ok(Stopped::NotRunning { stale: None }),
        DaemonState::Stale { pid } => {
            remove_run_files(paths);
            return Ok(Stopped::NotRunning { stale: Some(pid) });
        }
        DaemonState::Running { pid, .. } => pid,
    };
    // The daemon's own grace for in-flight streams, plus time to flush and exit.
    let grace = match timeout {
        Some(t) => t,
        None => gateway_config(None, None)?.shutdown_grace + Duration::from_secs(5),
    };
    procs::terminate(pid).with_context(|| format!("cannot signal conduit (pid {pid})"))?;
    let deadline = Instant::now() + grace;
    while procs::alive(pid) {
        if Instant::now() > deadline {
            procs::kill(pid).with_context(|| format!("cannot kill conduit (pid {pid})"))?;
            wait_gone(pid, Duration::from_secs(5));
            remove_run_files(paths);
            return Ok(Stopped::Stopped { pid, forced: true });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    remove_run_files(paths);
    Ok(Stopped::Stopped { pid, forced: false })
}

fn wait_gone(pid: i32, max: Duration) {
    let deadline = Instant::now() + max;
    while procs::alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn restart(paths: &Paths, opts: &StartOptions) -> Outcome {
    let _lock = lock(paths)?;
    let stopped = stop_locked(paths, None)?;
    if !opts.json {
        if let Stopped::Stopped { pid, .. } = stopped {
            note(format!("stopped conduit (pid {pid})"));
        }
    }
    start_locked(paths, opts)
}

/// Stop the daemon if it runs, for `uninstall` and `update`. Returns whether it was running.
pub fn stop_quietly(paths: &Paths) -> anyhow::Result<bool> {
    let _lock = lock(paths)?;
    Ok(matches!(stop_locked(paths, None)?, Stopped::Stopped { .. }))
}

/// A JSON summary of the daemon for `status` and `doctor`.
pub fn state_json(state: &DaemonState) -> Value {
    match state {
        DaemonState::Running { pid, port } => json!({"running": true, "pid": pid, "port": port}),
        DaemonState::Stale { pid } => json!({"running": false, "stale_pid": pid}),
        DaemonState::Stopped => json!({"running": false}),
    }
}
