//! Stories of `conduit login` (the real binary, no TTY) against the simulator: the whole device
//! flow ending with the profile ARN and a 0600 token file; a running gateway (at
//! `DEBUG_MODE=all`) picks the login up without a restart and refreshes it; afterwards no
//! token or client secret appears in the gateway log or the CLI output. A denied sign-in ends
//! with one clear message. `/login` refuses foreign Host headers and non-loopback peers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use conduit_sim::{Sim, SimConfig, SimHandle};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:codewhisperer:eu-central-1:111122223333:profile/ACMEPROFILE";
const KEY: &str = "sk-login-test-key";

struct Home {
    dir: PathBuf,
    sim: SimHandle,
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn home() -> Home {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/config", sim.base_url()))
        .json(&json!({"device_profiles": [{"arn": ARN, "profile_name": "acme"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let dir = std::env::temp_dir().join(format!("conduit-login-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    Home { dir, sim }
}

impl Home {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_conduit"));
        let url = self.sim.base_url();
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("CONDUIT_HOME", self.dir.join("conduit"))
            .env("CONDUIT_SSO_OIDC_URL", &url)
            .env("CONDUIT_KIRO_API_URL", &url)
            .env("CONDUIT_KIRO_AUTH_URL", &url)
            .env("CONDUIT_SSO_START_URL", "https://acme.awsapps.com/start")
            .env("CONDUIT_SSO_REGION", "ap-south-1")
            .env("CONDUIT_SECRET_STORE", "file")
            .env("PROXY_API_KEY", KEY)
            .env("DEBUG_MODE", "all")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.join("conduit").join("data")
    }
}

/// Runs `conduit login`, acting as the person once the code is shown (`approve` or `deny`).
/// Returns (success, stdout, stderr).
async fn login(h: &Home, act: &str) -> (bool, String, String) {
    let mut child = h.command(&["login", "--no-browser"]).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let code = tokio::task::spawn_blocking(move || loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a code is shown");
        if let Some(code) = line.split("enter the code: ").nth(1) {
            return code.trim().to_string();
        }
    })
    .await
    .unwrap();
    let ok = match act {
        "approve" => h.sim.approve_device(&code),
        _ => h.sim.deny_device(&code),
    };
    assert!(ok, "the sim knows the code {code}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = reader.join().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        err,
    )
}

fn wait_for_port(home: &Path) -> u16 {
    let file = home.join("run").join("port");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(p) = std::fs::read_to_string(&file) {
            if let Ok(p) = p.trim().parse() {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the gateway did not start");
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn chat(port: u16) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .header("x-api-key", KEY)
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn login_without_a_tty_signs_in_the_running_gateway_and_leaks_no_secret() {
    let h = home().await;
    let mut serve = h.command(&["serve", "--port", "0"]);
    serve.stdout(Stdio::null()).stderr(Stdio::null());
    let gw = Gateway(serve.spawn().unwrap());
    let port = wait_for_port(&h.dir.join("conduit"));
    let (status, _) = chat(port).await;
    assert_ne!(status, 200, "no credentials yet");

    let (ok, stdout, stderr) = login(&h, "approve").await;
    assert!(ok, "login failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Signed in."), "{stdout}");
    assert!(stdout.contains(ARN), "{stdout}");
    assert!(
        stdout.contains("eu-central-1"),
        "API region from the ARN: {stdout}"
    );
    assert!(stderr.contains("ap-south-1"), "SSO region: {stderr}");
    let token_file = h.data().join("kiro-auth-token.json");
    assert_eq!(mode(&token_file), 0o600);
    let t: Value = serde_json::from_slice(&std::fs::read(&token_file).unwrap()).unwrap();
    assert_eq!(t["profileArn"], ARN);
    let first_access = t["accessToken"].as_str().unwrap().to_string();
    let first_refresh = t["refreshToken"].as_str().unwrap().to_string();

    // The running gateway uses the new login without a restart.
    let (status, body) = chat(port).await;
    assert_eq!(status, 200, "{body}");
    // The upstream rejects the access token: one forced refresh through the IdC client.
    assert!(h.sim.expire_access_token(&first_access));
    let (status, body) = chat(port).await;
    assert_eq!(status, 200, "{body}");
    let (access, refresh) = h.sim.current_tokens(&first_refresh).unwrap();
    assert_ne!(refresh, first_refresh, "rotated");

    let (_, list, _) = {
        let out = h.command(&["accounts", "list"]).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            (),
        )
    };
    assert!(
        list.contains(ARN) && list.contains("Credential sources"),
        "{list}"
    );
    drop(gw);

    let secrets = [
        first_access,
        first_refresh,
        access,
        refresh,
        t["clientSecret"].as_str().unwrap().to_string(),
    ];
    let log = std::fs::read_to_string(h.dir.join("conduit/logs/gateway.log")).unwrap_or_default();
    assert!(
        log.contains("/v1/messages"),
        "the log has the requests: {log}"
    );
    for s in &secrets {
        for (name, text) in [
            ("gateway.log", &log),
            ("stdout", &stdout),
            ("stderr", &stderr),
            ("accounts list", &list),
        ] {
            assert!(!text.contains(s.as_str()), "a secret leaked into {name}");
        }
    }
}

#[tokio::test]
async fn a_denied_login_ends_with_one_clear_message() {
    let h = home().await;
    let (ok, _, stderr) = login(&h, "deny").await;
    assert!(!ok);
    assert!(stderr.contains("denied"), "{stderr}");
    assert!(stderr.contains("conduit login"), "{stderr}");
    assert!(!h.data().join("kiro-auth-token.json").exists());
}

/// The first non-loopback IPv4 address of this machine (`hostname -I`), if any.
fn non_loopback_address() -> Option<String> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(str::to_string)
}

#[tokio::test]
async fn the_login_page_is_only_for_loopback_with_a_loopback_host() {
    let h = home().await;
    let mut serve = h.command(&["serve", "--host", "0.0.0.0", "--port", "0"]);
    serve.stdout(Stdio::null()).stderr(Stdio::null());
    let _gw = Gateway(serve.spawn().unwrap());
    let port = wait_for_port(&h.dir.join("conduit"));
    let http = reqwest::Client::new();
    let r = http
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Sign in to Kiro"));
    let r = http
        .get(format!("http://127.0.0.1:{port}/login"))
        .header("host", format!("rebound.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "foreign Host header");
    let r = http
        .post(format!("http://127.0.0.1:{port}/login/start"))
        .header("host", format!("rebound.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the JSON endpoints are guarded too");
    match non_loopback_address() {
        Some(addr) => {
            let r = http
                .get(format!("http://{addr}:{port}/login"))
                .header("host", format!("127.0.0.1:{port}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "peer {addr} is not loopback");
        }
        None => eprintln!("no non-loopback address here; the guard's unit test covers peers"),
    }
}
