//! Security stories, as tables: a foreign Host is refused on every route; a browser `Origin` is
//! refused on the API; `/login` only answers loopback; wrong, absent and public-default keys are
//! refused; no secret reaches the logs at any `DEBUG_MODE`; every file under `$CONDUIT_HOME`
//! is 0600. The first three run in-process; the rest run the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

mod cli_support;
mod harness;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{files_under, CliEnv};
use harness::{Gateway, KEY};
use reqwest::Method;
use serde_json::{json, Value};

/// Every route the gateway serves (and one it does not, for the fallback), with a body that
/// would succeed: (method, path, body).
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    let chat =
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    vec![
        (Method::GET, "/health", None),
        (Method::POST, "/v1/messages", Some(harness::user("hi"))),
        (
            Method::POST,
            "/v1/messages/count_tokens",
            Some(harness::user("hi")),
        ),
        (Method::GET, "/v1/models", None),
        (Method::POST, "/v1/chat/completions", Some(chat)),
        (
            Method::POST,
            "/v1/responses",
            Some(json!({"model": "claude-sonnet-4-5", "input": "hi"})),
        ),
        (Method::GET, "/v1/usage", None),
        (Method::GET, "/login", None),
        (Method::POST, "/login/start", None),
        (Method::GET, "/login/poll?id=nope", None),
        (
            Method::POST,
            "/login/choose",
            Some(json!({"id": "nope", "arn": "x"})),
        ),
        (Method::GET, "/no/such/route", None),
    ]
}

fn port_of(gw: &Gateway) -> u16 {
    gw.url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A request as Claude Code sends it (key, `anthropic-version`, its browser-access header).
fn request(
    gw: &Gateway,
    method: &Method,
    path: &str,
    body: &Option<Value>,
) -> reqwest::RequestBuilder {
    let mut r = gw
        .http
        .request(method.clone(), format!("{}{path}", gw.url))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-dangerous-direct-browser-access", "true");
    if let Some(b) = body {
        r = r.json(b);
    }
    r
}

fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/chat/") || path.starts_with("/v1/responses")
}

/// The refusal is a 403 in the client's dialect on the API, plain text elsewhere.
async fn assert_refused(r: reqwest::Response, path: &str, what: &str) {
    assert_eq!(r.status().as_u16(), 403, "{what} on {path}");
    let text = r.text().await.unwrap();
    if !path.starts_with("/v1/") {
        assert!(text.starts_with("forbidden: "), "{what} on {path}: {text}");
        return;
    }
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if is_openai_path(path) {
        assert_eq!(body["error"]["type"], "permission_error", "{path}: {text}");
    } else {
        assert_eq!(body["type"], "error", "{path}: {text}");
        assert_eq!(body["error"]["type"], "permission_error", "{path}: {text}");
    }
}

#[tokio::test]
async fn every_route_refuses_a_foreign_host() {
    let gw = harness::start().await;
    let port = port_of(&gw);
    let foreign = [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("127.0.0.1.nip.io:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_string(),
        format!("192.0.2.1:{port}"),
    ];
    for (method, path, body) in routes() {
        for host in &foreign {
            let r = request(&gw, &method, path, &body)
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_refused(r, path, &format!("Host {host}")).await;
        }
    }
    // The same requests with our own Host pass the guard (whatever the route then answers;
    // not /login/start, which would begin a real sign-in).
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        for (method, path, body) in routes() {
            if path == "/login/start" {
                continue;
            }
            let r = request(&gw, &method, path, &body)
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_ne!(r.status().as_u16(), 403, "Host {host} on {path}");
        }
    }
}

#[tokio::test]
async fn api_routes_refuse_a_browser_origin_and_serve_clients_without_one() {
    let gw = harness::start().await;
    let port = port_of(&gw);
    let origins = [
        "https://evil.example".to_string(),
        "null".to_string(),
        format!("http://127.0.0.1:{port}"),
    ];
    for (method, path, body) in routes() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for origin in &origins {
            let r = request(&gw, &method, path, &body)
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert_refused(r, path, &format!("Origin {origin}")).await;
        }
        // Claude Code and the SDKs send no Origin: served.
        let r = request(&gw, &method, path, &body).send().await.unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 200, "{path}: {}", r.text().await.unwrap());
    }
    // Not the API: /health stays reachable with an Origin; /login only from its own page.
    let r = request(&gw, &Method::GET, "/health", &None)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = request(&gw, &Method::POST, "/login/start", &None)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_refused(r, "/login/start", "Origin https://evil.example").await;
}

#[tokio::test]
async fn wrong_absent_and_public_default_keys_are_refused() {
    let gw = harness::start().await;
    // (how the key is sent, whether it is accepted)
    let cases: [(&[(&str, &str)], bool); 9] = [
        (&[], false),
        (&[("x-api-key", "")], false),
        (&[("x-api-key", "sk-test-gateway-ke")], false),
        (&[("x-api-key", "SK-TEST-GATEWAY-KEY")], false),
        (&[("x-api-key", "my-super-secret-password-123")], false),
        (
            &[("authorization", "Bearer my-super-secret-password-123")],
            false,
        ),
        (&[("authorization", KEY)], false),
        (&[("x-api-key", KEY)], true),
        (&[("authorization", "Bearer sk-test-gateway-key")], true),
    ];
    for (method, path, body) in routes() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (headers, accepted) in cases {
            let mut r = gw.http.request(method.clone(), format!("{}{path}", gw.url));
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            if let Some(b) = &body {
                r = r.json(b);
            }
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            if accepted {
                assert_eq!(status, 200, "{path} {headers:?}: {text}");
                continue;
            }
            assert_eq!(status, 401, "{path} {headers:?}: {text}");
            let body: Value = serde_json::from_str(&text).unwrap();
            // Anthropic's shape, or OpenAI's (where a bad key is `invalid_api_key`).
            let anthropic =
                body["type"] == "error" && body["error"]["type"] == "authentication_error";
            let openai = body["error"]["code"] == "invalid_api_key";
            assert!(anthropic || openai, "{path}: {text}");
        }
    }
}

#[test]
fn serve_refuses_to_start_with_a_public_default_key() {
    for key in ["my-super-secret-password-123", "changeme"] {
        let mut env = CliEnv::new();
        env.set("PROXY_API_KEY", key);
        let mut child = env
            .cmd(&["serve", "--port", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("conduit serve started with PROXY_API_KEY={key}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            stderr.push_str(&line.unwrap());
        }
        assert!(!status.success(), "{key}");
        assert!(
            stderr.contains("publicly documented default key"),
            "{stderr}"
        );
        assert!(
            !env.conduit_home.join("run/port").exists(),
            "it never listened"
        );
    }
}

/// A `conduit serve` child, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Serve {
    fn start(env: &CliEnv, args: &[&str]) -> (Self, u16) {
        let _ = std::fs::remove_file(env.conduit_home.join("run/port"));
        let mut all = vec!["serve", "--port", "0"];
        all.extend_from_slice(args);
        let serve = Self(
            env.cmd(&all)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(port) = env.port() {
                return (serve, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the gateway did not start");
    }

    /// SIGTERM (so the log is flushed), then everything it wrote on stderr.
    fn stop(mut self) -> String {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let mut stderr = String::new();
        if let Some(err) = self.0.stderr.take() {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                stderr.push_str(&line);
                stderr.push('\n');
            }
        }
        let _ = self.0.wait();
        stderr
    }
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
async fn beyond_loopback_the_listening_address_and_allowed_hosts_pass_but_login_stays_local() {
    let Some(addr) = non_loopback_address() else {
        panic!("this test needs a non-loopback address (hostname -I)");
    };
    let mut env = CliEnv::new();
    env.set(
        "CONDUIT_ALLOWED_HOSTS",
        "gw.example.com, other.example:8443",
    );
    let (serve, port) = Serve::start(&env, &["--host", "0.0.0.0"]);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // (URL host, Host header or None for the URL's, path, refused)
    let cases: Vec<(&str, Option<String>, &str, bool)> = vec![
        (&addr, None, "/health", false),
        ("127.0.0.1", None, "/health", false),
        ("127.0.0.1", Some("gw.example.com".into()), "/health", false),
        (
            "127.0.0.1",
            Some("GW.example.com:443".into()),
            "/v1/models",
            false,
        ),
        (
            "127.0.0.1",
            Some("other.example:8443".into()),
            "/health",
            false,
        ),
        (
            "127.0.0.1",
            Some("other.example:443".into()),
            "/health",
            true,
        ),
        (
            "127.0.0.1",
            Some(format!("evil.example:{port}")),
            "/health",
            true,
        ),
        (
            "127.0.0.1",
            Some(format!("evil.example:{port}")),
            "/v1/models",
            true,
        ),
        ("127.0.0.1", None, "/login", false),
        (&addr, None, "/login", true),
        (&addr, Some(format!("127.0.0.1:{port}")), "/login", true),
        ("127.0.0.1", Some("gw.example.com".into()), "/login", true),
    ];
    let key = env.key();
    for (url_host, host, path, refused) in cases {
        let mut r = http
            .get(format!("http://{url_host}:{port}{path}"))
            .header("x-api-key", &key);
        if let Some(h) = &host {
            r = r.header("host", h);
        }
        let status = r.send().await.unwrap().status().as_u16();
        // (/health may be 503 here, with no Kiro credentials; what matters is 403 or not.)
        assert_eq!(
            status == 403,
            refused,
            "{url_host} Host {host:?} {path}: {status}"
        );
    }
    serve.stop();
}

/// Waits for `pred` on the file at `path` (the token file is rewritten after a refresh).
fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sim_url(env: &CliEnv) -> String {
    env.extra
        .iter()
        .find(|(k, _)| k == "CONDUIT_KIRO_API_URL")
        .map(|(_, v)| v.clone())
        .unwrap()
}

async fn post(http: &reqwest::Client, url: String, key: &str, body: Value) -> (u16, String) {
    let r = http
        .post(url)
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_any_debug_mode() {
    for mode in ["off", "errors", "all"] {
        let mut env = CliEnv::with_kiro().await;
        env.set("DEBUG_MODE", mode);
        env.set("FIRST_TOKEN_TIMEOUT", "2");
        let sim = sim_url(&env);
        let creds = env.root.join("kiro-auth-token.json");
        let before = read_json(&creds);
        let (serve, port) = Serve::start(&env, &[]);
        let key = env.key();
        let http = reqwest::Client::new();
        let messages = format!("http://127.0.0.1:{port}/v1/messages");

        let (status, text) =
            post(&http, messages.clone(), &key, harness::user("marker-chat")).await;
        assert_eq!(status, 200, "{mode}: {text}");
        // The upstream refuses the access token: one refresh, and the request still succeeds.
        let r = http
            .post(format!("{sim}/_sim/accounts/expire"))
            .json(&json!({"access_token": before["accessToken"]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let (status, text) = post(
            &http,
            messages.clone(),
            &key,
            harness::user("marker-refresh"),
        )
        .await;
        assert_eq!(status, 200, "{mode}: {text}");
        let after = read_json(&creds);
        assert_ne!(
            after["refreshToken"], before["refreshToken"],
            "{mode}: refreshed"
        );
        // A client error and an upstream error.
        let (status, _) = post(
            &http,
            messages.clone(),
            &key,
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "marker-bad"}]}),
        )
        .await;
        assert_eq!(status, 400, "{mode}");
        let r = http
            .post(format!("{sim}/_sim/rules"))
            .json(&json!({"match": {"contains": "marker-upstream"},
                "http_error": {"status": 400, "body": {"message": "Improperly formed request.", "reason": null}}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let (status, _) = post(&http, messages, &key, harness::user("marker-upstream")).await;
        assert!(status >= 400, "{mode}: {status}");

        let stderr = serve.stop();
        let log = std::fs::read_to_string(env.conduit_home.join("logs/gateway.log")).unwrap();
        assert!(
            log.contains("/v1/messages"),
            "{mode}: the log has the requests:\n{log}"
        );
        if mode == "all" {
            assert!(
                log.contains("marker-chat"),
                "{mode}: bodies are logged:\n{log}"
            );
        }
        if mode == "errors" {
            assert!(
                log.contains("marker-bad"),
                "{mode}: failed bodies are logged:\n{log}"
            );
            assert!(
                !log.contains("marker-chat"),
                "{mode}: only failed bodies:\n{log}"
            );
        }
        let secrets = [
            ("gateway key", key.clone()),
            (
                "first access token",
                before["accessToken"].as_str().unwrap().to_string(),
            ),
            (
                "first refresh token",
                before["refreshToken"].as_str().unwrap().to_string(),
            ),
            (
                "refreshed access token",
                after["accessToken"].as_str().unwrap().to_string(),
            ),
            (
                "refreshed refresh token",
                after["refreshToken"].as_str().unwrap().to_string(),
            ),
        ];
        for (what, secret) in &secrets {
            assert!(secret.len() >= 8, "{what} is a real secret");
            assert!(
                !log.contains(secret.as_str()),
                "DEBUG_MODE={mode}: {what} in gateway.log"
            );
            assert!(
                !stderr.contains(secret.as_str()),
                "DEBUG_MODE={mode}: {what} on stderr"
            );
        }
    }
}

/// Runs `conduit login --no-browser` at the IAM Identity Center `start_url` and approves the
/// code in the simulator, as an account with the one profile `arn`. (A sign-in to a start URL
/// already registered replaces that account.)
async fn login(env: &CliEnv, sim: &str, start_url: &str, arn: &str) {
    let mut child = env
        .cmd(&["login", "--no-browser"])
        .env("CONDUIT_SSO_START_URL", start_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
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
    let r = reqwest::Client::new()
        .post(format!("{sim}/_sim/device/approve"))
        .json(&json!({"user_code": code, "profiles": [{"arn": arn, "profile_name": "p"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "the sim knows the code {code}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = reader.join().unwrap();
    assert!(out.status.success(), "conduit login failed:\n{err}");
}

#[tokio::test]
async fn every_file_under_conduit_home_is_private_after_logins_and_a_chat() {
    use std::os::unix::fs::PermissionsExt;
    let sim = conduit_sim::Sim::start(conduit_sim::SimConfig::default())
        .await
        .unwrap();
    let base = sim.base_url().to_string();
    let mut env = CliEnv::new();
    for (k, v) in [
        ("CONDUIT_SSO_OIDC_URL", base.as_str()),
        ("CONDUIT_KIRO_API_URL", base.as_str()),
        ("CONDUIT_KIRO_AUTH_URL", base.as_str()),
        ("CONDUIT_SECRET_STORE", "file"),
        ("DEBUG_MODE", "all"),
    ] {
        env.set(k, v);
    }
    let r = reqwest::Client::new()
        .post(format!("{base}/_sim/config"))
        .json(&json!({"device_profiles": [{"arn": cli_support::PROFILE_ARN, "profile_name": "p"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // Two accounts: the second lands in data/accounts/, and the pool keeps data/state.json.
    login(
        &env,
        &base,
        "https://first.awsapps.com/start",
        cli_support::PROFILE_ARN,
    )
    .await;
    login(
        &env,
        &base,
        "https://second.awsapps.com/start",
        "arn:aws:codewhisperer:us-east-1:210987654321:profile/SECOND",
    )
    .await;
    let (serve, port) = Serve::start(&env, &[]);
    // A Claude Code session: its sticky account is what the pool writes to state.json.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/messages"))
        .header("x-api-key", env.key())
        .header(
            "x-claude-code-session-id",
            "6c1d2a7e-0b7e-4a57-9f6e-1f0c3c1b2f10",
        )
        .json(&harness::user("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let state = env.conduit_home.join("data/state.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.stop();

    let home = &env.conduit_home;
    let files = files_under(home);
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(home).unwrap().display().to_string())
        .collect();
    for must in [
        "api-key",
        "data/kiro-auth-token.json",
        "data/client_registration.json",
        "data/credentials.json",
        "data/state.json",
        "logs/gateway.log",
    ] {
        assert!(rel.iter().any(|r| r == must), "{must} missing from {rel:?}");
    }
    assert!(
        rel.iter().any(|r| r.starts_with("data/accounts/")),
        "a second account file: {rel:?}"
    );
    for (file, name) in files.iter().zip(&rel) {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
}
