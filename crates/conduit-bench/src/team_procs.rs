//! Team-mode processes for the `team` scenario: `conduit serve --team` on a SQLite file or a
//! Postgres database, its admin calls over HTTP (login, create and revoke keys), and a
//! throwaway Postgres database made and dropped with `psql`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::procs::{conduit_command, wait_for_file, Procs};

/// The bootstrap admin's password (first start only; `CONDUIT_ADMIN_PASSWORD`).
const ADMIN_PASSWORD: &str = "bench-admin-password-0123456789";

/// One `conduit serve --team` process.
pub struct TeamServer {
    child: Child,
    pub url: String,
    /// Spawn to the first 200 on `/readyz` (store open, migrated, the cache loaded).
    pub ready_after: Duration,
}

impl TeamServer {
    /// Start on `home` (SQLite at `home/data/team.db` unless `database_url` is given), with the
    /// bench's upstreams and the simulator's Kiro account; waits for `/readyz`.
    pub async fn start(
        procs: &Procs,
        home: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let port_file = home.join("run").join("port");
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = conduit_command(
            home,
            &procs.api_key,
            &procs.sim_url,
            &procs.creds,
            "0",
            &["--team"],
        )?;
        cmd.env("CONDUIT_ADMIN_PASSWORD", ADMIN_PASSWORD);
        match database_url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        let spawned = Instant::now();
        let child = cmd.spawn().context("cannot start conduit serve --team")?;
        let mut server = Self {
            child,
            url: String::new(),
            ready_after: Duration::ZERO,
        };
        server.url = format!("http://127.0.0.1:{}", wait_for_file(&port_file).await?);
        let client = reqwest::Client::new();
        let deadline = spawned + Duration::from_secs(120);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.url)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("conduit serve --team exited with {status}");
            }
            if Instant::now() > deadline {
                bail!("conduit serve --team not ready within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.ready_after = spawned.elapsed();
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.send(client, reqwest::Method::POST, path, token, body)
            .await
    }

    /// `method path` with a JSON body; the JSON answer, or an error naming the status.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut req = client
            .request(method.clone(), format!("{}{path}", self.url))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// The bootstrap admin's session token.
    pub async fn login(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let v = self
            .post(
                client,
                "/auth/login",
                None,
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await?;
        field(&v, "token")
    }

    /// A new virtual key: `(id, secret)`.
    pub async fn create_key(
        &self,
        client: &reqwest::Client,
        token: &str,
        name: &str,
    ) -> anyhow::Result<(String, String)> {
        let v = self
            .post(client, "/admin/keys", Some(token), json!({"name": name}))
            .await?;
        Ok((field(&v, "id")?, field(&v, "key")?))
    }

    pub async fn revoke(
        &self,
        client: &reqwest::Client,
        token: &str,
        id: &str,
    ) -> anyhow::Result<()> {
        self.post(
            client,
            &format!("/admin/keys/{id}/revoke"),
            Some(token),
            json!({}),
        )
        .await
        .map(|_| ())
    }

    /// The status of a cheap authenticated call (`GET /v1/models`) with `key`.
    pub async fn status(&self, client: &reqwest::Client, key: &str) -> anyhow::Result<u16> {
        let r = client
            .get(format!("{}/v1/models", self.url))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .send()
            .await?;
        let status = r.status().as_u16();
        let _ = r.bytes().await;
        Ok(status)
    }
}

impl Drop for TeamServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(v: &Value, name: &str) -> anyhow::Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no `{name}` in {v}"))
}

/// `$CONDUIT_TEST_PG_URL`, or the local server.
pub fn pg_server_url() -> String {
    std::env::var("CONDUIT_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A database of the bench's own on a Postgres server, dropped on drop.
pub struct PgDb {
    server: String,
    name: String,
    pub url: String,
}

impl PgDb {
    pub fn create(server: &str) -> anyhow::Result<Self> {
        psql(server, "SELECT 1")?;
        let name = format!("conduit_bench_{}", uuid::Uuid::new_v4().simple());
        psql(server, &format!("CREATE DATABASE \"{name}\""))?;
        let base = server
            .rsplit_once('/')
            .map_or(server, |(base, _)| base)
            .to_string();
        Ok(Self {
            server: server.to_string(),
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = psql(
            &self.server,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}
