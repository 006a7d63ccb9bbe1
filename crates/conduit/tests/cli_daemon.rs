//! The daemon's life as a user sees it: `start` → `status` → Claude Code configured → `stop`,
//! and the ways it goes wrong: a stale PID file, a busy port, two `start`s at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::{alive, wait_dead, CliEnv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_status_configure_stop() {
    let env = CliEnv::with_kiro().await;
    // The user already has Claude Code settings of their own.
    let original = r#"{"model":"opus","permissions":{"allow":["Bash(ls)"]},"env":{"FOO":"bar"}}"#;
    std::fs::create_dir_all(env.home.join(".claude")).unwrap();
    std::fs::write(env.settings_path(), original).unwrap();

    let r = env.ok(&["start"]);
    assert!(
        r.stdout.contains("conduit started: http://127.0.0.1:"),
        "{r}"
    );
    let (port, pid) = (env.port().unwrap(), env.pid().unwrap());
    assert!(alive(pid));

    let (code, status) = env.status_json();
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["healthy"], true);
    assert_eq!(status["port"], port);
    assert_eq!(
        status["health"]["upstream"]["profile_arn"],
        cli_support::PROFILE_ARN
    );
    let human = env.ok(&["status"]);
    assert!(human.stdout.contains("account 123456789012"), "{human}");
    assert!(
        human.stdout.contains(&format!("running (pid {pid})")),
        "{human}"
    );

    // Claude Code's settings point at the daemon; everything else is kept.
    let s = env.settings();
    assert_eq!(
        s["env"]["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(s["env"]["ANTHROPIC_AUTH_TOKEN"], env.key());
    assert!(s["env"].get("ANTHROPIC_API_KEY").is_none(), "{s}");
    assert_eq!(s["env"]["FOO"], "bar");
    assert_eq!(s["model"], "opus");
    assert_eq!(s["permissions"], json!({"allow": ["Bash(ls)"]}));
    let backup = env.home.join(".claude/settings.json.conduit.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);

    // The gateway really answers with that key.
    let models = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/models"))
        .header("x-api-key", env.key())
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    // The compaction window is the one the gateway gives the default model (`"model": "opus"`).
    let opus: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/models/claude-opus-5-5"))
        .bearer_auth(env.key())
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let window = opus["context_window"]
        .as_u64()
        .unwrap()
        .clamp(100_000, 1_000_000);
    assert_eq!(
        s["env"]["CLAUDE_CODE_AUTO_COMPACT_WINDOW"],
        window.to_string(),
        "{s}"
    );

    // A second start is a no-op that says so; the backup is not made again.
    let again = env.ok(&["start"]);
    assert!(again.stdout.contains("already running"), "{again}");
    assert_eq!(env.pid(), Some(pid));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);

    let stop = env.ok(&["stop"]);
    assert!(
        stop.stdout
            .contains(&format!("conduit stopped (pid {pid})")),
        "{stop}"
    );
    wait_dead(pid);
    let (code, status) = env.status_json();
    assert_eq!(code, 3, "{status}");
    assert_eq!(status["running"], false);
    assert!(env.run(&["status"]).stdout.contains("stopped"));

    // Stopping what is already stopped succeeds, with a note.
    let twice = env.ok(&["stop"]);
    assert!(twice.stdout.contains("not running"), "{twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_recovers_from_a_stale_pid_after_kill_9() {
    let env = CliEnv::with_kiro().await;
    env.ok(&["start", "--no-configure-claude"]);
    let pid = env.pid().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_dead(pid);

    let status = env.run(&["status"]);
    assert_eq!(status.code, 3, "{status}");
    assert!(status.stdout.contains("stale PID file"), "{status}");

    let r = env.ok(&["start", "--no-configure-claude"]);
    assert!(
        r.stderr
            .contains(&format!("stale PID file: process {pid} is gone")),
        "{r}"
    );
    let new_pid = env.pid().unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(env.status_json().0, 0);
    env.ok(&["stop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_explained_and_its_holder_named() {
    let env = CliEnv::with_kiro().await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let r = env.run(&["start", "--port", &port, "--no-configure-claude"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{r}"
    );
    assert!(
        r.stderr.contains(&format!("pid {}", std::process::id())),
        "{r}"
    );
    assert!(r.stderr.contains("--port"), "{r}");
    assert!(env.pid().is_none(), "no daemon may be left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_starts_at_once_give_one_daemon() {
    let env = CliEnv::with_kiro().await;
    let a = env
        .cmd(&["start", "--no-configure-claude", "--json"])
        .spawn_output();
    let b = env
        .cmd(&["start", "--no-configure-claude", "--json"])
        .spawn_output();
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let parse = |r: &cli_support::Run| -> serde_json::Value {
        assert_eq!(r.code, 0, "{r}");
        serde_json::from_str(&r.stdout).unwrap()
    };
    let (a, b) = (parse(&a), parse(&b));
    let mut outcomes = [a["status"].as_str().unwrap(), b["status"].as_str().unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, ["already_running", "started"]);
    assert_eq!(a["pid"], b["pid"]);
    assert_eq!(env.pid(), a["pid"].as_i64().map(|p| p as i32));
    env.ok(&["stop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_gives_a_new_healthy_daemon() {
    let env = CliEnv::with_kiro().await;
    env.ok(&["start", "--no-configure-claude"]);
    let pid = env.pid().unwrap();
    let r = env.ok(&["restart", "--no-configure-claude"]);
    assert!(r.stdout.contains("conduit started"), "{r}");
    wait_dead(pid);
    assert_ne!(env.pid().unwrap(), pid);
    assert_eq!(env.status_json().0, 0);
    env.ok(&["stop"]);
}

#[test]
fn start_without_credentials_says_how_to_sign_in() {
    let env = CliEnv::new();
    let r = env.ok(&["start", "--no-configure-claude"]);
    assert!(r.stderr.contains("no Kiro credentials"), "{r}");
    assert!(r.stderr.contains("/login"), "{r}");
    assert!(
        !r.stderr.contains("opened"),
        "CONDUIT_NO_BROWSER must keep the browser shut: {r}"
    );
    let status = env.run(&["status"]);
    assert_eq!(status.code, 4, "{status}");
    assert!(status.stdout.contains("conduit login"), "{status}");
    let doctor = env.run(&["doctor"]);
    assert_eq!(doctor.code, 4, "{doctor}");
    env.ok(&["stop"]);
}

trait SpawnOutput {
    fn spawn_output(self) -> std::thread::JoinHandle<cli_support::Run>;
}

impl SpawnOutput for std::process::Command {
    fn spawn_output(mut self) -> std::thread::JoinHandle<cli_support::Run> {
        std::thread::spawn(move || cli_support::Run::from(self.output().unwrap()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_lets_an_in_flight_stream_finish() {
    let env = CliEnv::with_kiro().await;
    env.ok(&["start", "--no-configure-claude"]);
    let port = env.port().unwrap();
    let sim = env
        .extra
        .iter()
        .find(|(k, _)| k == "CONDUIT_KIRO_API_URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let http = reqwest::Client::new();
    let rule = json!({"match": {"contains": "slow"}, "reply": [
        {"text": "Hello", "chunk": 5}, {"delay_ms": 1500}, {"text": " world", "chunk": 6}]});
    let r = http
        .post(format!("{sim}/_sim/rules"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let mut resp = http
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .header("x-api-key", env.key())
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "be slow"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = String::new();
    while !body.contains("Hello") {
        let chunk = resp
            .chunk()
            .await
            .unwrap()
            .expect("stream ended before the first text");
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    // SIGTERM while the stream is mid-way; the daemon must finish it before exiting.
    let stopper = {
        let cmd = env.cmd(&["stop", "--json"]);
        std::thread::spawn(move || {
            let mut cmd = cmd;
            cli_support::Run::from(cmd.output().unwrap())
        })
    };
    while let Some(chunk) = resp.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        body.contains(" world") && body.contains("message_stop"),
        "{body}"
    );
    let stopped = stopper.join().unwrap();
    assert_eq!(stopped.code, 0, "{stopped}");
    let v: serde_json::Value = serde_json::from_str(&stopped.stdout).unwrap();
    assert_eq!(v["forced"], false, "{stopped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_doctor_and_usage_show_credits_and_a_suspended_account() {
    let env = CliEnv::with_kiro().await;
    env.ok(&["start", "--no-configure-claude"]);
    let url = format!("http://127.0.0.1:{}", env.port().unwrap());
    let http = reqwest::Client::new();
    let ask = || {
        http.post(format!("{url}/v1/messages"))
            .header("x-api-key", env.key())
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    assert_eq!(ask().await.unwrap().status(), 200);

    // The answer's meteringEvent credits are the account's.
    let (code, status) = env.status_json();
    assert_eq!(code, 0, "{status}");
    let upstream = &status["health"]["upstream"];
    assert_eq!(upstream["state"], "active", "{status}");
    let credits = upstream["credits_used"].as_f64().unwrap();
    assert!(credits > 0.0, "{status}");
    let human = env.ok(&["status"]);
    assert!(
        human.stdout.contains("active, ") && human.stdout.contains("credits used"),
        "{human}"
    );
    let doctor = env.run(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("[ok  ] kiro account: account: active"),
        "{doctor}"
    );

    // Kiro suspends the account: the next request is refused, and every view says so.
    let update = http
        .post(format!(
            "{}/_sim/accounts/update",
            env.sim_url.as_ref().unwrap()
        ))
        .json(&json!({"access_token": env.access_token, "suspended": true}))
        .send()
        .await
        .unwrap();
    assert!(update.status().is_success());
    assert_ne!(ask().await.unwrap().status(), 200);
    let (code, status) = env.status_json();
    assert_eq!(code, 4, "a suspended account cannot serve: {status}");
    assert_eq!(
        status["health"]["upstream"]["state"], "suspended",
        "{status}"
    );
    assert_eq!(status["accounts"][0]["state"], "suspended", "{status}");
    assert!(status["accounts"][0]["credits_used"].as_f64().unwrap() >= credits);
    let human = env.run(&["status"]);
    assert!(human.stdout.contains("suspended"), "{human}");
    let doctor = env.run(&["doctor", "--json"]);
    assert_eq!(doctor.code, 4, "{doctor}");
    let checks: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let account = checks["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "kiro account")
        .unwrap();
    assert_eq!(account["level"], "fail", "{account}");
    assert!(
        account["fix"]
            .as_str()
            .unwrap()
            .contains("contact AWS support"),
        "{account}"
    );
    let usage: serde_json::Value = http
        .get(format!("{url}/v1/usage"))
        .header("x-api-key", env.key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &usage["accounts"][0];
    assert_eq!(first["state"], "suspended", "{usage}");
    assert!(
        first["credits_used"].as_f64().unwrap() >= credits,
        "{usage}"
    );
    env.ok(&["stop"]);
}
