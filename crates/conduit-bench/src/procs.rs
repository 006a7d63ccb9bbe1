//! Starting and stopping the simulator and the gateway as real processes for the benchmark,
//! the simulator's scripted replies, and conduit's cold start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

const PROFILE_ARN: &str = "arn:aws:codewhisperer:us-east-1:123456789012:profile/BENCH";

/// The simulator's default Bedrock API key (`conduit_sim::bedrock::TEST_BEDROCK_API_KEY`).
pub const BEDROCK_API_KEY: &str = "ABSKY29uZHVpdC1zaW0tdGVzdC1rZXk=";

/// Kiro for every model as before, and the Bedrock scenario's model name to Bedrock.
const CONFIG: &str = r#"
[[upstreams]]
name = "kiro"
kind = "kiro"

[[upstreams]]
name = "bedrock"
kind = "bedrock"
region = "us-east-1"
endpoint = "{sim}/region/us-east-1"
models = { "bench-bedrock-opus" = "us.anthropic.claude-opus-5-5" }

[[routes]]
models = ["bench-bedrock-*"]
upstreams = ["bedrock"]

[[routes]]
models = ["*"]
upstreams = ["kiro"]
"#;

pub struct Procs {
    sim: Child,
    conduit: Child,
    pub sim_url: String,
    pub conduit_url: String,
    pub api_key: String,
    pub access_token: String,
    pub creds: PathBuf,
    home: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no parent dir of the bench binary")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p conduit -p conduit-sim`",
            path.display()
        );
    }
    Ok(path)
}

/// Under `cargo run --release -p conduit-bench`, build the two servers beside this binary first
/// (a no-op when they are up to date), so the one command is enough.
pub fn build_servers() -> anyhow::Result<()> {
    let Ok(cargo) = std::env::var("CARGO") else {
        return Ok(());
    };
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "conduit", "-p", "conduit-sim"]);
    match profile {
        "release" => {
            cmd.arg("--release");
        }
        "debug" => eprintln!("warning: a debug build gives meaningless figures; use --release"),
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd
        .status()
        .context("cannot run cargo to build the servers")?;
    if !status.success() {
        bail!("building conduit and conduit-sim failed");
    }
    Ok(())
}

pub async fn wait_for_file(path: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return Ok(s.trim().to_string());
            }
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Procs {
    pub async fn start() -> anyhow::Result<Self> {
        let home = std::env::temp_dir().join(format!("conduit-bench-{}", std::process::id()));
        std::fs::create_dir_all(&home)?;
        let home = TempDir(home);
        let sim_port_file = home.0.join("sim.port");
        let sim = Command::new(bin("conduit-sim")?)
            .args(["--port", "0", "--port-file"])
            .arg(&sim_port_file)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start conduit-sim")?;
        let sim_url = format!("http://127.0.0.1:{}", wait_for_file(&sim_port_file).await?);

        let access_token = format!("bench-access-{}", uuid::Uuid::new_v4());
        let refresh_token = format!("bench-refresh-{}", uuid::Uuid::new_v4());
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{sim_url}/_sim/accounts"))
            .json(&serde_json::json!({
                "access_token": access_token, "refresh_token": refresh_token,
                "expires_in": 36000, "profile_arn": PROFILE_ARN, "kind": "social"}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("simulator refused the bench account: {}", resp.status());
        }
        let creds = home.0.join("kiro-auth-token.json");
        std::fs::write(
            &creds,
            serde_json::json!({"accessToken": access_token, "refreshToken": refresh_token,
                "expiresAt": "2099-01-01T00:00:00Z", "profileArn": PROFILE_ARN,
                "authMethod": "social", "region": "us-east-1"})
            .to_string(),
        )?;
        let api_key = format!("sk-bench-{}", uuid::Uuid::new_v4());
        let conduit_home = home.0.join("conduit");
        let conduit = conduit_command(&conduit_home, &api_key, &sim_url, &creds, "0", &[])?
            .spawn()
            .context("cannot start conduit")?;
        let port = wait_for_file(&conduit_home.join("run").join("port")).await?;
        let conduit_url = format!("http://127.0.0.1:{port}");
        let procs = Self {
            sim,
            conduit,
            sim_url,
            conduit_url,
            api_key,
            access_token,
            creds,
            home,
        };
        procs.wait_healthy(&client).await?;
        procs.add_rules(&client).await?;
        Ok(procs)
    }

    pub fn conduit_pid(&self) -> u32 {
        self.conduit.id()
    }

    pub fn sim_pid(&self) -> u32 {
        self.sim.id()
    }

    /// The bench's temp directory (removed when the processes stop).
    pub fn dir(&self) -> &Path {
        &self.home.0
    }

    async fn wait_healthy(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = client
                .get(format!("{}/health", self.conduit_url))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("conduit did not become healthy")
    }

    /// The scripted replies: `BENCH` → 200 text events of 20 characters; `SMALL` → one short
    /// text event; `HOLD` → one event, then 20 s of silence, then one more.
    async fn add_rules(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let text: String = (0..200)
            .map(|i| format!("chunk {i:>5} of reply."))
            .collect();
        // Keep the simulator's request log short: it holds every body, and a long run would
        // grow it by gigabytes.
        let resp = client
            .post(format!("{}/_sim/config", self.sim_url))
            .json(&serde_json::json!({"log_limit": 64}))
            .send()
            .await?;
        if !resp.status().is_success() {
            eprintln!("warning: the simulator refused log_limit; its memory will grow");
        }
        let rules = [
            serde_json::json!({"id": "bench", "match": {"contains": "BENCH"},
                "reply": [{"text": text, "chunk": 20}]}),
            serde_json::json!({"id": "small", "match": {"contains": "SMALL"},
                "reply": [{"text": "Hello! How can I help you today?"}]}),
            serde_json::json!({"id": "hold", "match": {"contains": "HOLD"},
                "reply": [{"text": "held"}, {"delay_ms": 20000}, {"text": " released"}]}),
        ];
        for rule in rules {
            let resp = client
                .post(format!("{}/_sim/rules", self.sim_url))
                .json(&rule)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("simulator refused a bench rule: {}", resp.status());
            }
        }
        Ok(())
    }

    /// Time from spawning `conduit serve` to its first 200 on /health, for `runs` fresh starts
    /// (each with an empty CONDUIT_HOME), sorted.
    pub fn cold_starts(&self, runs: usize) -> anyhow::Result<Vec<Duration>> {
        let mut times = Vec::with_capacity(runs);
        for i in 0..runs {
            let port = free_port()?;
            let home = self.home.0.join(format!("cold-{i}"));
            let mut cmd =
                conduit_command(&home, &self.api_key, &self.sim_url, &self.creds, &port, &[])?;
            let start = Instant::now();
            let mut child = cmd.spawn().context("cannot start conduit")?;
            let healthy = wait_health_200(&port, start + Duration::from_secs(10));
            let elapsed = start.elapsed();
            let _ = child.kill();
            let _ = child.wait();
            if !healthy {
                bail!("conduit (cold start {i}) did not answer /health with 200 within 10 s");
            }
            times.push(elapsed);
        }
        times.sort();
        Ok(times)
    }
}

/// `conduit serve [extra…] --port PORT` on `home`, with the bench's config file (Kiro, and
/// Bedrock for the Bedrock scenario's model) and the simulator's Kiro account.
pub fn conduit_command(
    home: &Path,
    api_key: &str,
    sim_url: &str,
    creds: &Path,
    port: &str,
    extra: &[&str],
) -> anyhow::Result<Command> {
    // A/B knobs for profiling work: another conduit binary, or an allocator preloaded into
    // conduit only (e.g. /usr/lib/x86_64-linux-gnu/libmimalloc.so.2).
    let exe = match std::env::var_os("BENCH_CONDUIT_BIN") {
        Some(p) => PathBuf::from(p),
        None => bin("conduit")?,
    };
    let mut cmd = Command::new(exe);
    if let Some(preload) = std::env::var_os("BENCH_CONDUIT_LD_PRELOAD") {
        cmd.env("LD_PRELOAD", preload);
    }
    let config = home.with_extension("toml");
    std::fs::create_dir_all(home)?;
    std::fs::write(&config, CONFIG.replace("{sim}", sim_url))?;
    // Default log level (info): one access line per request, as users run it.
    cmd.arg("serve")
        .args(extra)
        .args(["--port", port])
        .env("CONDUIT_CONFIG", &config)
        .env("AWS_BEARER_TOKEN_BEDROCK", BEDROCK_API_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CONDUIT_HOME", home)
        .env("PROXY_API_KEY", api_key)
        .env("CONDUIT_KIRO_API_URL", sim_url)
        .env("CONDUIT_KIRO_AUTH_URL", sim_url)
        .env("CONDUIT_SSO_OIDC_URL", sim_url)
        .env("KIRO_CREDS_FILE", creds)
        .env_remove("CONDUIT_LOG")
        .env_remove("DEBUG_MODE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(cmd)
}

fn free_port() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port().to_string())
}

/// Poll `GET /health` with plain blocking sockets (no runtime in the way) every 0.5 ms.
fn wait_health_200(port: &str, deadline: Instant) -> bool {
    use std::io::{Read, Write};
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            let mut head = [0u8; 12];
            if s.write_all(request.as_bytes()).is_ok()
                && s.read_exact(&mut head).is_ok()
                && &head[9..12] == b"200"
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    false
}

impl Drop for Procs {
    fn drop(&mut self) {
        // SIGTERM first, so that a profiler wrapping conduit (callgrind) writes its output.
        let _ = Command::new("kill")
            .args(["-TERM", &self.conduit.id().to_string()])
            .status();
        let until = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < until && matches!(self.conduit.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.conduit.kill();
        let _ = self.sim.kill();
        let _ = self.conduit.wait();
        let _ = self.sim.wait();
    }
}
