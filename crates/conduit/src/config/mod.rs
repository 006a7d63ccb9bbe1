//! Gateway configuration: raw values from flags and environment, validated into one typed
//! [`GatewayConfig`] without IO. Each part of the program receives only its own piece. The
//! config file (upstreams and routes) is [`file`].

pub mod file;
pub mod spend;
pub mod sso;
pub mod team;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How much of each request the logs may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugMode {
    /// One line per request, no bodies.
    Off,
    /// Also the (redacted) request body of failed requests.
    Errors,
    /// Also every (redacted) request body.
    All,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub host: IpAddr,
    pub port: u16,
    /// `CONDUIT_ALLOWED_HOSTS`: Host header names (`name` or `name:port`, lower-case) accepted
    /// besides loopback and `host`, e.g. a reverse proxy's public name.
    pub allowed_hosts: Vec<String>,
    /// `CONDUIT_HOME`: all state lives below it.
    pub home: PathBuf,
    /// `PROXY_API_KEY`: overrides the key file.
    pub api_key_override: Option<String>,
    pub debug_mode: DebugMode,
    /// Keepalive `ping` interval while the upstream is silent.
    pub ping_interval: Duration,
    /// How long in-flight streams may run on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// `--config` / `CONDUIT_CONFIG`: the upstreams and routes file. `None`: Kiro only.
    pub config_file: Option<PathBuf>,
}

impl GatewayConfig {
    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.home.join("logs")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.home.join("run")
    }
    pub fn api_key_file(&self) -> PathBuf {
        self.home.join("api-key")
    }
}

/// The conduit home directory: `CONDUIT_HOME`, else `~/.conduit`.
pub fn home_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    if let Some(h) = env("CONDUIT_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .ok_or("HOME is not set: set CONDUIT_HOME to choose where conduit keeps its state")?;
    Ok(PathBuf::from(home).join(".conduit"))
}

/// Build the config from flags (which win) and the environment.
pub fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
    host_flag: Option<String>,
    port_flag: Option<u16>,
) -> Result<GatewayConfig, String> {
    let home = home_dir(env)?;
    let host_raw = host_flag
        .or_else(|| env("CONDUIT_HOST"))
        .unwrap_or_else(|| "127.0.0.1".into());
    let host_raw = if host_raw == "localhost" {
        "127.0.0.1".to_string()
    } else {
        host_raw
    };
    let host: IpAddr = host_raw
        .parse()
        .map_err(|_| format!("CONDUIT_HOST `{host_raw}` is not an IP address"))?;
    let port = match port_flag {
        Some(p) => p,
        None => match env("CONDUIT_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("CONDUIT_PORT `{p}` is not a port number"))?,
            None => 8765,
        },
    };
    let debug_mode = match env("DEBUG_MODE").as_deref().map(str::to_ascii_lowercase) {
        None => DebugMode::Off,
        Some(v) => match v.as_str() {
            "" | "off" | "false" | "0" => DebugMode::Off,
            "errors" => DebugMode::Errors,
            "all" => DebugMode::All,
            other => return Err(format!("DEBUG_MODE `{other}` must be off, errors or all")),
        },
    };
    let allowed_hosts = allowed_hosts(env("CONDUIT_ALLOWED_HOSTS").as_deref().unwrap_or(""))?;
    let ping_ms = parse_num(env, "CONDUIT_PING_INTERVAL_MS", 5_000)?;
    let grace_s = parse_num(env, "CONDUIT_SHUTDOWN_GRACE", 10)?;
    Ok(GatewayConfig {
        host,
        port,
        allowed_hosts,
        home,
        api_key_override: env("PROXY_API_KEY").filter(|k| !k.is_empty()),
        debug_mode,
        ping_interval: Duration::from_millis(ping_ms.max(50)),
        shutdown_grace: Duration::from_secs(grace_s),
        config_file: env("CONDUIT_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
    })
}

/// `gw.example.com, gw.example.com:8443`: names as they appear in a Host header.
fn allowed_hosts(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let valid = entry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c));
        if !valid || entry.starts_with(':') {
            return Err(format!(
                "CONDUIT_ALLOWED_HOSTS entry `{entry}` is not a host name: give names as clients \
                 send them in the Host header (`gw.example.com` or `gw.example.com:8443`), \
                 without a scheme or path"
            ));
        }
        out.push(entry.to_ascii_lowercase());
    }
    Ok(out)
}

fn parse_num(env: &dyn Fn(&str) -> Option<String>, key: &str, default: u64) -> Result<u64, String> {
    match env(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{key} `{v}` is not a whole number")),
    }
}

/// An environment for the `from_env` functions, from `(name, value)` pairs (tests).
#[cfg(test)]
pub(crate) fn env_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<GatewayConfig, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_env(&|k| map.get(k).cloned(), None, None)
    }

    #[test]
    fn defaults_are_loopback_8765() {
        let c = cfg(&[("HOME", "/h")]).unwrap();
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.port, 8765);
        assert_eq!(c.home, PathBuf::from("/h/.conduit"));
        assert_eq!(c.debug_mode, DebugMode::Off);
        assert!(c.allowed_hosts.is_empty());
    }

    #[test]
    fn allowed_hosts_are_a_list_of_names() {
        let c = cfg(&[
            ("HOME", "/h"),
            (
                "CONDUIT_ALLOWED_HOSTS",
                " GW.example.com, gw.example.com:8443 ,,",
            ),
        ])
        .unwrap();
        assert_eq!(c.allowed_hosts, ["gw.example.com", "gw.example.com:8443"]);
    }

    #[test]
    fn bad_values_are_explained() {
        for (k, v) in [
            ("CONDUIT_PORT", "http"),
            ("CONDUIT_HOST", "example"),
            ("DEBUG_MODE", "verbose"),
            ("CONDUIT_ALLOWED_HOSTS", "https://gw.example.com/"),
        ] {
            let e = cfg(&[("HOME", "/h"), (k, v)]).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }
}
