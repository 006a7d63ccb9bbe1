//! `conduit team spend` with the real binary against `serve --team` on loopback HTTP: the
//! table (US dollars to six decimals, a total), `--csv`, `--json`, grouping and dates, and the
//! refusals. Ledger rows are written straight into the gateway's SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use cli_support::{CliEnv, Run};
use conduit_store::{SpendRow, Store};
use serde_json::Value;

struct Server {
    env: CliEnv,
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn start() -> Server {
        let mut env = CliEnv::new();
        env.set("CONDUIT_ADMIN_PASSWORD", "first-admin-password");
        std::fs::create_dir_all(&env.root).unwrap();
        let config = env.root.join("conduit.toml");
        std::fs::write(
            &config,
            format!(
                "[[upstreams]]\nname = \"anthropic\"\nkind = \"anthropic\"\n\
                 base_url = \"http://127.0.0.1:{}\"\napi_key = \"sk-ant-test\"\n",
                unused_port()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = std::fs::File::create(env.root.join("serve.stderr")).unwrap();
        let child = env
            .cmd(&["serve", "--team", "--config", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Server {
            env,
            child,
            url: String::new(),
        };
        let port_file = server.env.conduit_home.join("run/port");
        for _ in 0..600 {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "serve --team exited ({status}):\n{}",
                    std::fs::read_to_string(server.env.root.join("serve.stderr")).unwrap()
                );
            }
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = p.trim().parse::<u16>() {
                    server.url = format!("http://127.0.0.1:{port}");
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve --team never wrote {}", port_file.display());
    }

    fn login(&self) {
        let mut child = self
            .env
            .cmd(&[
                "team",
                "login",
                &self.url,
                "--username",
                "admin",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"first-admin-password\n")
            .unwrap();
        let r = Run::from(child.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "login: {r}");
    }
}

fn row(user: &str, subject: &str, model: &str, at_ms: i64, cost: Option<i64>) -> SpendRow {
    SpendRow {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms,
        user_id: Some(user.into()),
        subject: Some(subject.into()),
        team_id: None,
        key_id: Some("key-1".into()),
        upstream: Some("anthropic".into()),
        model: model.into(),
        upstream_model: None,
        path: "/v1/messages".into(),
        status: 200,
        latency_ms: 800,
        ttft_ms: Some(90),
        input_tokens: 3,
        cache_write_5m: 12_304,
        cache_write_1h: 0,
        cache_read: 0,
        output_tokens: 550,
        credits_micros: None,
        estimated: false,
        cost_nanos: cost,
        priced_by: None,
    }
}

/// Write ledger rows into the gateway's own store (it has migrated it by now).
fn seed(server: &Server, rows: Vec<SpendRow>) {
    let path = server.env.conduit_home.join("data/team.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open_sqlite(&path).await.unwrap();
        assert_eq!(
            store.insert_spend(&rows, &[]).await.unwrap(),
            rows.len() as u64
        );
        store.close().await;
    });
}

#[test]
fn team_spend_prints_a_table_csv_and_json() {
    let server = Server::start();
    server.login();
    let r = server.env.ok(&["team", "spend"]);
    assert!(r.stdout.contains("No requests in this period."), "{r}");

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    seed(
        &server,
        vec![
            row("u1", "alice", "claude-sonnet-4-5", now_ms, Some(54_399_000)),
            row("u1", "alice", "claude-sonnet-4-5", now_ms, Some(54_399_000)),
            row("u2", "bob", "mystery", now_ms, None),
        ],
    );

    let r = server.env.ok(&["team", "spend"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("Spend by user from "), "{r}");
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        words(lines[1]),
        [
            "USER",
            "REQUESTS",
            "INPUT",
            "WRITE",
            "5M",
            "WRITE",
            "1H",
            "READ",
            "OUTPUT",
            "COST",
            "USD",
            "UNPRICED",
            "ESTIMATED"
        ]
    );
    assert_eq!(
        words(lines[2]),
        ["alice", "2", "6", "24608", "0", "0", "1100", "0.108798", "0", "0"]
    );
    assert_eq!(
        words(lines[3]),
        ["bob", "1", "3", "12304", "0", "0", "550", "0.000000", "1", "0"]
    );
    assert_eq!(
        words(lines[4]),
        ["TOTAL", "3", "9", "36912", "0", "0", "1650", "0.108798", "1", "0"]
    );

    let r = server.env.ok(&["team", "spend", "--csv"]);
    assert_eq!(
        r.stdout,
        "group,group_id,requests,input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,\
         cache_read_tokens,output_tokens,cost_usd,unpriced_requests,estimated_requests\r\n\
         alice,u1,2,6,24608,0,0,1100,0.108798,0,0\r\n\
         bob,u2,1,3,12304,0,0,550,0.000000,1,0\r\n"
    );

    let r = server.env.ok(&[
        "team",
        "spend",
        "--group-by",
        "model",
        "--from",
        "2000-01-01",
        "--to",
        "2999-12-31",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["group_by"], "model");
    assert_eq!(report["from"], "2000-01-01T00:00:00Z");
    assert_eq!(report["to"], "3000-01-01T00:00:00Z");
    assert_eq!(report["data"][0]["group"], "claude-sonnet-4-5");
    assert_eq!(report["data"][0]["cost_usd"], "0.108798");
    assert_eq!(report["data"][1]["group"], "mystery");

    let r = server.env.run(&["team", "spend", "--from", "yesterday"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("RFC 3339") && r.stderr.contains("HTTP 400"),
        "{r}"
    );
    let r = server.env.run(&["team", "spend", "--group-by", "week"]);
    assert_eq!(r.code, 2, "a bad value is a usage error: {r}");
}
