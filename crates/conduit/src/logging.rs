//! Logs: tracing to stderr and `$CONDUIT_HOME/logs/gateway.log`, one access line per request,
//! and redaction of anything secret before a body is ever logged.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conduit_core::{Error, Usage};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::DebugMode;

/// Install the global subscriber. Safe to call once per process.
pub fn init(logs_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(logs_dir)
        .map_err(|e| format!("cannot create {}: {e}", logs_dir.display()))?;
    let path = logs_dir.join("gateway.log");
    let file = RotatingFile::open(path.clone(), ROTATE_AT_BYTES, ROTATE_KEEP)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let filter =
        || EnvFilter::try_from_env("CONDUIT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal; never into files or pipes (or with NO_COLOR).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .with_filter(filter());
    let file = fmt::layer()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter());
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))
}

/// `gateway.log` is rotated when it would grow past this size...
pub const ROTATE_AT_BYTES: u64 = 10 * 1024 * 1024;
/// ...keeping this many old files (`gateway.log.1` is the newest).
pub const ROTATE_KEEP: usize = 3;

/// An append-only log file that rotates itself by size: `gateway.log` → `gateway.log.1` → … →
/// `gateway.log.{keep}` (dropped). Rotation happens between writes, so a line is never split.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    keep: usize,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

impl RotatingFile {
    pub fn open(path: PathBuf, max: u64, keep: usize) -> std::io::Result<Self> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            size,
            max,
            keep,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        for n in (1..self.keep).rev() {
            let from = self.numbered(n);
            if from.exists() {
                std::fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, self.numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max {
            // A failed rotation must not lose the line: keep appending to the current file.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Field names whose values are secrets, compared lowercase with `_` and `-` removed.
const SECRET_KEYS: &[&str] = &[
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "token",
    "clientsecret",
    "apikey",
    "xapikey",
    "authorization",
    "password",
    "secret",
    "devicecode",
    "code",
    "codeverifier",
];

/// Replace the value of every secret-named field, at any depth, with `"<redacted>"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let norm: String = k
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if SECRET_KEYS.contains(&norm.as_str()) && !v.is_null() {
                    *v = Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A request body fit for the log: parsed, redacted, re-serialised. Non-JSON is not logged.
pub fn loggable_body(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

/// One request's journey, logged exactly once as a single line when it ends (or is dropped
/// because the client went away).
pub struct RequestRecord {
    method: &'static str,
    path: &'static str,
    model: String,
    /// The upstream that answered (its configured name) and its own id of the model.
    upstream: Option<String>,
    upstream_model: Option<String>,
    /// Claude Code's `x-claude-code-agent-id`: which (sub)agent sent the request.
    agent: Option<String>,
    /// Team mode: the credential's id and its user's subject (never the secret).
    key_id: Option<String>,
    user: Option<String>,
    started: Instant,
    /// When the request started, Unix milliseconds (the ledger's time).
    started_ms: i64,
    first_byte: Option<Duration>,
    status: u16,
    usage: Option<Usage>,
    error: Option<String>,
    /// An upstream's error's kind (snake_case), for the upstream-errors metric.
    error_kind: Option<&'static str>,
    /// Team mode: meters the request into the spend ledger when it ends.
    meter: Option<crate::team::spend::meter::Meter>,
    /// Held while a stream is open (the open-streams gauge).
    open_stream: Option<crate::metrics::StreamGauge>,
    debug: DebugMode,
    body: Option<String>,
    done: bool,
}

impl RequestRecord {
    pub fn start(method: &'static str, path: &'static str, debug: DebugMode) -> Self {
        crate::memory::request_started();
        Self {
            method,
            path,
            model: String::new(),
            upstream: None,
            upstream_model: None,
            agent: None,
            key_id: None,
            user: None,
            started: Instant::now(),
            started_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            first_byte: None,
            status: 0,
            usage: None,
            error: None,
            error_kind: None,
            meter: None,
            open_stream: None,
            debug,
            body: None,
            done: false,
        }
    }

    pub fn set_model(&mut self, model: &str) {
        self.model = model.to_string();
    }

    pub fn set_upstream(&mut self, upstream: &str) {
        self.upstream = Some(upstream.to_owned());
    }

    /// The upstream that answered and its own id of the model.
    pub fn set_route(&mut self, upstream: &str, upstream_model: &str) {
        self.upstream = Some(upstream.to_owned());
        self.upstream_model = Some(upstream_model.to_owned());
    }

    /// Team mode: the guard's meter, which writes the ledger row when the request ends.
    pub fn set_meter(&mut self, meter: Option<&crate::team::spend::meter::Meter>) {
        self.meter = meter.cloned();
    }

    /// A stream is open from now until the record ends.
    pub fn streaming(&mut self) {
        if self.open_stream.is_none() {
            self.open_stream = Some(crate::metrics::stream_opened());
        }
    }

    /// The (sub)agent a request came from, for attribution; kept only if it looks like an id
    /// (at most 64 of `[A-Za-z0-9._:-]`), so a header cannot stuff the log.
    pub fn set_agent(&mut self, agent: Option<&str>) {
        self.agent = agent
            .map(str::trim)
            .filter(|a| {
                !a.is_empty()
                    && a.len() <= 64
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
            })
            .map(str::to_string);
    }

    /// Team mode: who called, by credential id and user subject (`None` for a key without an
    /// owner). The secret itself never reaches the record.
    pub fn set_principal(&mut self, credential_id: &str, subject: Option<&str>) {
        self.key_id = Some(credential_id.to_owned());
        self.user = subject.map(str::to_owned);
    }

    /// [`Self::set_principal`] from the team guard's principal, if there is one.
    pub fn set_caller(&mut self, principal: Option<&crate::team::Principal>) {
        if let Some(p) = principal {
            self.set_principal(&p.credential_id, p.subject.as_deref());
        }
    }

    /// Keep the body for the log, if the debug mode may ever show it.
    pub fn keep_body(&mut self, body: &[u8]) {
        if self.debug != DebugMode::Off {
            self.body = Some(loggable_body(body));
        }
    }

    pub fn first_byte(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(self.started.elapsed());
        }
    }

    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    pub fn set_usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    pub fn fail(&mut self, status: u16, error: &Error) {
        self.status = status;
        self.error = Some(error.message.clone());
        if error.fault == conduit_core::Fault::Upstream {
            self.error_kind = Some(crate::metrics::error_kind(&error.kind));
        }
    }

    /// Log the line now.
    pub fn finish(mut self) {
        self.emit();
    }

    fn emit(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        crate::memory::request_ended();
        let status = if self.status == 0 { 499 } else { self.status };
        let total_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let first_ms = self.first_byte.map(|d| d.as_secs_f64() * 1000.0);
        let usage = self.usage.unwrap_or_default();
        self.observe(status);
        // "reported": the upstream's own token counts; "estimated": the gateway's; "-": the
        // response never ended (an error, or the client left).
        let counted = match self.usage {
            Some(u) if u.estimated => "estimated",
            Some(_) => "reported",
            None => "-",
        };
        let body = match (self.debug, self.error.is_some()) {
            (DebugMode::All, _) | (DebugMode::Errors, true) => self.body.as_deref(),
            _ => None,
        };
        tracing::info!(
            method = self.method,
            path = self.path,
            model = %self.model,
            upstream = self.upstream.as_deref().unwrap_or("-"),
            agent = self.agent.as_deref().unwrap_or("-"),
            key_id = self.key_id.as_deref().unwrap_or("-"),
            user = self.user.as_deref().unwrap_or("-"),
            status,
            first_byte_ms = first_ms.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into()),
            total_ms = format!("{total_ms:.1}"),
            input_tokens = usage.total_input_tokens(),
            output_tokens = usage.output_tokens,
            cache_read_tokens = usage.cache_read_input_tokens,
            cache_write_tokens = usage.cache_creation_input_tokens,
            // Kiro's meteringEvent credits for this request; "-" when none came.
            credits = usage.credits.map(|c| format!("{c:.4}")).unwrap_or_else(|| "-".into()),
            usage = counted,
            error = self.error.as_deref().unwrap_or(""),
            body = body.unwrap_or(""),
            "request"
        );
    }
}

impl RequestRecord {
    /// Metrics for every request, and the ledger row in team mode.
    fn observe(&mut self, status: u16) {
        let upstream = self.upstream.as_deref().unwrap_or("-");
        let total = self.started.elapsed();
        crate::metrics::request(
            self.path,
            upstream,
            &self.model,
            status,
            total,
            self.first_byte,
        );
        if let Some(usage) = &self.usage {
            // The ledger's five counters, by the same reading of the usage.
            let c = crate::team::spend::record::counters(usage);
            crate::metrics::tokens(
                upstream,
                &self.model,
                &[
                    ("input", c.input),
                    ("cache_write_5m", c.cache_write_5m),
                    ("cache_write_1h", c.cache_write_1h),
                    ("cache_read", c.cache_read),
                    ("output", c.output),
                ],
            );
        }
        if let Some(kind) = self.error_kind {
            crate::metrics::upstream_error(upstream, kind);
        }
        if let Some(meter) = self.meter.take() {
            meter.finish(&crate::team::spend::record::Finished {
                at_ms: self.started_ms,
                path: self.path,
                model: &self.model,
                upstream: self.upstream.as_deref(),
                upstream_model: self.upstream_model.as_deref(),
                status,
                latency: total,
                ttft: self.first_byte,
                usage: self.usage,
            });
        }
        self.open_stream = None;
    }
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_three() {
        let dir = std::env::temp_dir().join(format!("conduit-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.log");
        let mut log = RotatingFile::open(path.clone(), 100, 3).unwrap();
        for i in 0..20 {
            log.write_all(format!("line {i:02} {}\n", "x".repeat(40)).as_bytes())
                .unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert!(read(&path).contains("line 19"));
        assert!(read(&dir.join("gateway.log.1")).contains("line 17"));
        assert!(dir.join("gateway.log.3").exists());
        assert!(!dir.join("gateway.log.4").exists());
        for f in std::fs::read_dir(&dir).unwrap() {
            let len = f.unwrap().metadata().unwrap().len();
            assert!(len <= 100, "{len}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn agent_ids_are_kept_only_when_they_look_like_ids() {
        let cases = [
            (Some("agent-7f3a"), Some("agent-7f3a")),
            (Some(" team:reviewer.2 "), Some("team:reviewer.2")),
            (Some("a b"), None),
            (Some("x\ny"), None),
            (Some(""), None),
            (None, None),
        ];
        for (given, kept) in cases {
            let mut r = RequestRecord::start("POST", "/v1/messages", DebugMode::Off);
            r.set_agent(given);
            assert_eq!(r.agent.as_deref(), kept, "{given:?}");
            r.done = true;
        }
        let mut long = RequestRecord::start("POST", "/v1/messages", DebugMode::Off);
        long.set_agent(Some(&"a".repeat(65)));
        assert_eq!(long.agent, None);
        long.done = true;
    }

    #[test]
    fn redacts_secrets_at_any_depth() {
        let mut v = serde_json::json!({
            "accessToken": "A", "nested": [{"refresh_token": "R", "clientSecret": "S"}],
            "max_tokens": 100, "input_tokens": 5, "messages": [{"content": "hi"}]
        });
        redact(&mut v);
        let s = v.to_string();
        for secret in ["\"A\"", "\"R\"", "\"S\""] {
            assert!(!s.contains(secret), "{s}");
        }
        assert!(s.contains("\"max_tokens\":100") && s.contains("hi"));
    }
}
