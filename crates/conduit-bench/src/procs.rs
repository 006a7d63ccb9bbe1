//! Starting and stopping the simulator and the gateway as real processes for the benchmark.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct Procs {
    sim: Child,
    conduit: Child,
    pub sim_url: String,
    pub conduit_url: String,
    pub api_key: String,
    pub access_token: String,
    _home: TempDir,
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

async fn wait_for_file(path: &std::path::Path) -> anyhow::Result<String> {
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
        let profile_arn = "arn:aws:codewhisperer:us-east-1:123456789012:profile/BENCH";
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{sim_url}/_sim/accounts"))
            .json(&serde_json::json!({
                "access_token": access_token, "refresh_token": refresh_token,
                "expires_in": 36000, "profile_arn": profile_arn, "kind": "social"}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("simulator refused the bench account: {}", resp.status());
        }
        let expires = "2099-01-01T00:00:00Z";
        let creds = home.0.join("kiro-auth-token.json");
        std::fs::write(
            &creds,
            serde_json::json!({"accessToken": access_token, "refreshToken": refresh_token,
                "expiresAt": expires, "profileArn": profile_arn, "authMethod": "social",
                "region": "us-east-1"})
            .to_string(),
        )?;
        let conduit_home = home.0.join("conduit");
        let api_key = format!("sk-bench-{}", uuid::Uuid::new_v4());
        let conduit = Command::new(bin("conduit")?)
            .args(["serve", "--port", "0"])
            .env("CONDUIT_HOME", &conduit_home)
            .env("PROXY_API_KEY", &api_key)
            .env("CONDUIT_KIRO_API_URL", &sim_url)
            .env("CONDUIT_KIRO_AUTH_URL", &sim_url)
            .env("CONDUIT_SSO_OIDC_URL", &sim_url)
            .env("KIRO_CREDS_FILE", &creds)
            .env("CONDUIT_LOG", "warn")
            .stderr(Stdio::null())
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
            _home: home,
        };
        procs.wait_healthy(&client).await?;
        Ok(procs)
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

    /// The scripted reply: 200 text events of 20 characters each.
    pub async fn add_bench_rule(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let text: String = (0..200)
            .map(|i| format!("chunk {i:>5} of reply."))
            .collect();
        let resp = client
            .post(format!("{}/_sim/rules", self.sim_url))
            .json(
                &serde_json::json!({"id": "bench", "match": {"contains": "BENCH"},
                "reply": [{"text": text, "chunk": 20}]}),
            )
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("simulator refused the bench rule: {}", resp.status());
        }
        Ok(())
    }

    /// How many SSE events conduit sends for one request.
    pub async fn sse_event_count(
        &self,
        client: &reqwest::Client,
        url: &str,
        body: &[u8],
    ) -> anyhow::Result<usize> {
        let text = client
            .post(url)
            .header("x-api-key", &self.api_key)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await?
            .text()
            .await?;
        Ok(text.matches("\nevent: ").count() + usize::from(text.starts_with("event: ")))
    }

    pub fn conduit_rss_kb(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.conduit.id()))
            .context("cannot read /proc (Linux only)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS line")
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let _ = self.conduit.kill();
        let _ = self.sim.kill();
        let _ = self.conduit.wait();
        let _ = self.sim.wait();
    }
}
