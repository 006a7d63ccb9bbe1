//! The team admin CLI and HTTPS with the real binary: `team cert` (files, modes, fingerprint),
//! the TLS listener (handshakes off the accept loop, ConnectInfo, clear errors for bad files),
//! and the story over HTTPS: `serve --team`, `team login`, teams, users, keys, `init`,
//! `reset-admin`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use cli_support::{CliEnv, Run};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `conduit <args>` with `stdin` piped in.
fn run_with_stdin(env: &CliEnv, args: &[&str], stdin: &str) -> Run {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    Run::from(child.wait_with_output().unwrap())
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{r}"))
}

/// `team cert --host NAME --out DIR --json` → (cert path, key path, JSON).
fn make_cert(env: &CliEnv, dir: &Path) -> (PathBuf, PathBuf, Value) {
    let r = env.ok(&[
        "team",
        "cert",
        "--host",
        "gw.test.internal",
        "--out",
        dir.to_str().unwrap(),
        "--json",
    ]);
    (dir.join("cert.pem"), dir.join("key.pem"), json_of(&r))
}

fn sha256_colon_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn team_cert_writes_a_private_key_and_prints_the_leaf_fingerprint() {
    let env = CliEnv::new();
    // Default directory, human output.
    let r = env.ok(&["team", "cert", "--host", "gw.test.internal"]);
    let dir = env.conduit_home.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600, "key.pem must be private");
    assert_eq!(mode(&cert), 0o644);
    let der = CertificateDer::from_pem_file(&cert).unwrap();
    let colon = sha256_colon_hex(&der);
    let short = hex::encode(&Sha256::digest(&der)[..8]);
    assert!(r.stdout.contains(&colon), "no colon fingerprint:\n{r}");
    assert!(r.stdout.contains(&short), "no 16-char fingerprint:\n{r}");
    assert!(r.stdout.contains("--tls-cert"), "no serve hint:\n{r}");
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .contains("PRIVATE KEY"));

    // --out and --json: the same facts for scripts, and the library agrees.
    let out = env.root.join("other");
    let (cert, _, j) = make_cert(&env, &out);
    let der = CertificateDer::from_pem_file(&cert).unwrap();
    assert_eq!(j["sha256_fingerprint"], sha256_colon_hex(&der));
    assert_eq!(
        j["fingerprint_short"],
        hex::encode(&Sha256::digest(&der)[..8])
    );
    let pem = std::fs::read_to_string(&cert).unwrap();
    let (c, s) = conduit::tls::fingerprint_sha256(&pem).unwrap();
    assert_eq!(
        (c.as_str(), s.as_str()),
        (
            j["sha256_fingerprint"].as_str().unwrap(),
            j["fingerprint_short"].as_str().unwrap()
        )
    );
}

#[test]
fn bad_tls_files_are_refused_with_the_file_named() {
    let env = CliEnv::new();
    let (cert_a, key_a, _) = make_cert(&env, &env.root.join("a"));
    let (_, key_b, _) = make_cert(&env, &env.root.join("b"));
    let junk = env.root.join("junk.pem");
    std::fs::write(&junk, "hello, not a certificate\n").unwrap();
    let missing = env.root.join("missing.pem");
    // (cert, key, the path the message must name, words it must contain)
    let cases: [(&Path, &Path, &Path, &str); 5] = [
        (&missing, &key_a, &missing, "cannot read"),
        (&cert_a, &missing, &missing, "cannot read"),
        (&junk, &key_a, &junk, "no PEM certificate"),
        (&cert_a, &cert_a, &cert_a, "no PEM private key"),
        (&cert_a, &key_b, &key_b, "does not go with"),
    ];
    for (cert, key, named, words) in cases {
        let e = conduit::tls::server_config(cert, key)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&named.display().to_string()) && e.contains(words),
            "{cert:?} + {key:?}: {e}"
        );
        let r = env.run(&[
            "serve",
            "--team",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 1, "{r}");
        assert!(
            r.stderr.contains(&named.display().to_string()) && r.stderr.contains(words),
            "{r}"
        );
    }
    assert!(conduit::tls::server_config(&cert_a, &key_a).is_ok());
}

/// A client that trusts `cert` only.
fn https_client(cert: &Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .no_proxy()
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_listener_serves_https_with_connect_info_while_a_handshake_stalls() {
    use axum::extract::ConnectInfo;
    use tokio::io::AsyncWriteExt;

    let env = CliEnv::new();
    let (cert, key, _) = make_cert(&env, &env.root.join("tls"));
    let app = axum::Router::new().route(
        "/peer",
        axum::routing::get(
            |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn({
        let (cert, key, shutdown) = (cert.clone(), key.clone(), shutdown.clone());
        async move {
            conduit::tls::run_tls(listener, app, &cert, &key, shutdown, Duration::from_secs(1))
                .await
        }
    });

    // One client connects and says nothing; another speaks plain HTTP. Neither holds up the
    // next handshake (each handshake runs in its own task; a stalled one would take 10 s).
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    plain
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    let client = https_client(&cert);
    for host in ["localhost", "127.0.0.1"] {
        let r = client
            .get(format!("https://{host}:{port}/peer"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), reqwest::Version::HTTP_11);
        let peer: SocketAddr = r.text().await.unwrap().parse().unwrap();
        assert!(peer.ip().is_loopback() && peer.port() != port, "{peer}");
    }
    // A client that does not trust the certificate is refused by its own TLS check.
    let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(untrusting
        .get(format!("https://localhost:{port}/peer"))
        .send()
        .await
        .is_err());

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

// ---- the story over HTTPS (needs `serve --team`, the bootstrap and the admin API) ----

/// A running `conduit serve --team` over HTTPS on a temporary SQLite store.
struct TeamServer {
    env: CliEnv,
    child: Child,
    url: String,
    cert: PathBuf,
}

impl Drop for TeamServer {
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

impl TeamServer {
    fn start(admin_password: &str) -> Self {
        let mut env = CliEnv::new();
        env.set("CONDUIT_ADMIN_PASSWORD", admin_password);
        let (cert, key, _) = make_cert(&env, &env.root.join("tls"));
        // An upstream for readiness; the admin API does not call it.
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
            .cmd(&[
                "serve",
                "--team",
                "--config",
                config.to_str().unwrap(),
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Self {
            env,
            child,
            url: String::new(),
            cert,
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
                    server.url = format!("https://localhost:{port}");
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve --team never wrote {}", port_file.display());
    }

    fn cli(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        json_of(&self.env.ok(&all))
    }

    fn login(&self, user: &str, password: &str) -> Run {
        run_with_stdin(
            &self.env,
            &[
                "team",
                "login",
                &self.url,
                "--username",
                user,
                "--password-stdin",
                "--ca-cert",
                self.cert.to_str().unwrap(),
            ],
            &format!("{password}\n"),
        )
    }
}

fn assert_refused(r: &Run, words: &str) {
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains(words), "expected {words:?}:\n{r}");
}

#[test]
fn admin_story_over_https_login_teams_users_keys() {
    let server = TeamServer::start("first-admin-password");

    // Without --ca-cert the self-signed gateway is not trusted, and the error says what to do.
    let r = run_with_stdin(
        &server.env,
        &[
            "team",
            "login",
            &server.url,
            "--username",
            "admin",
            "--password-stdin",
        ],
        "first-admin-password\n",
    );
    assert_refused(&r, "--ca-cert");
    assert_refused(
        &server.login("admin", "wrong"),
        "invalid username or password",
    );

    let r = server.login("admin", "first-admin-password");
    assert_eq!(r.code, 0, "{r}");
    let session = server.env.conduit_home.join("team-session.json");
    let mode = std::fs::metadata(&session).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&session).unwrap()).unwrap();
    assert!(saved["token"].as_str().unwrap().starts_with("cst_"));
    assert!(saved["ca_cert"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(!r.stdout.contains(saved["token"].as_str().unwrap()));

    let team = server.ok_json(&["team", "teams", "create", "--name", "platform \"core\""]);
    let team_id = team["id"].as_str().unwrap();
    assert_eq!(team["name"], "platform \"core\"");
    let listed = server.ok_json(&["team", "teams", "list"]);
    assert!(listed["teams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == team_id));
    assert_refused(
        &server.cli(&["team", "teams", "create", "--name", "platform \"core\""]),
        "HTTP 400",
    );

    let user = server.ok_json(&[
        "team",
        "users",
        "create",
        "--subject",
        "alice",
        "--email",
        "alice@example.com",
        "--team",
        team_id,
    ]);
    let user_id = user["id"].as_str().unwrap();
    assert_eq!(
        (user["role"].as_str(), user["team_id"].as_str()),
        (Some("member"), Some(team_id))
    );
    let users = server.ok_json(&["team", "users", "list"]);
    assert!(users["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == user_id));
    assert!(
        !users.to_string().contains("argon2"),
        "a hash leaked: {users}"
    );

    let created = server.ok_json(&[
        "team",
        "keys",
        "create",
        "--name",
        "alice laptop",
        "--user",
        user_id,
        "--rpm",
        "60",
    ]);
    let key = created["key"].as_str().unwrap();
    let key_id = created["id"].as_str().unwrap();
    assert!(key.starts_with("sk-proxy-") && key.len() == 9 + 64, "{key}");
    let list = server.cli(&["team", "keys", "list", "--json"]);
    assert_eq!(list.code, 0, "{list}");
    assert!(!list.stdout.contains(key), "the secret is listed:\n{list}");
    let keys = json_of(&list);
    let listed = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .unwrap();
    assert_eq!(
        (listed["user_id"].as_str(), listed["team_id"].as_str()),
        (Some(user_id), Some(team_id))
    );
    assert_eq!(listed["revoked"], false);
    // The table shows the key too, still without its secret.
    let table = server.env.ok(&["team", "keys", "list"]);
    assert!(
        table.stdout.contains(key_id) && !table.stdout.contains(key),
        "{table}"
    );

    assert_eq!(
        server.ok_json(&["team", "keys", "revoke", key_id])["revoked"],
        true
    );
    let keys = server.ok_json(&["team", "keys", "list"]);
    let listed = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .unwrap();
    assert_eq!(listed["revoked"], true);

    // Users: team membership and the on/off switch, as the API answers.
    for (args, field, want) in [
        (
            vec!["users", "deactivate", user_id],
            "active",
            Value::Bool(false),
        ),
        (
            vec!["users", "activate", user_id],
            "active",
            Value::Bool(true),
        ),
        (
            vec!["users", "set-team", user_id, "none"],
            "updated",
            Value::Bool(true),
        ),
    ] {
        let mut all = vec!["team"];
        all.extend(args.iter());
        assert_eq!(server.ok_json(&all)[field], want, "{args:?}");
    }
    let users = server.ok_json(&["team", "users", "list"]);
    let alice = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == user_id)
        .unwrap();
    assert_eq!(alice["team_id"], Value::Null);

    // API errors: the API's message, exit 1.
    assert_refused(
        &server.cli(&["team", "keys", "revoke", "no-such-key"]),
        "HTTP 404",
    );
    assert_refused(
        &server.cli(&["team", "users", "activate", "no-such-user"]),
        "HTTP 404",
    );

    // A session the gateway no longer knows: 401, and the way out.
    let mut broken = saved.clone();
    broken["token"] = Value::from(format!("cst_{}", "0".repeat(64)));
    std::fs::write(&session, broken.to_string()).unwrap();
    assert_refused(
        &server.cli(&["team", "teams", "list"]),
        "conduit team login",
    );
}

#[test]
fn init_refuses_over_an_admin_and_reset_admin_replaces_the_password() {
    let server = TeamServer::start("first-admin-password");
    assert_eq!(server.login("admin", "first-admin-password").code, 0);

    let r = server.cli(&["team", "init"]);
    assert_eq!(r.code, 1, "init over an existing admin:\n{r}");
    assert!(r.stderr.contains("admin"), "{r}");

    let reset = server.ok_json(&["team", "reset-admin"]);
    let password = reset["password"].as_str().unwrap();
    assert!(password.len() >= 16, "{password}");
    // The human form says it is shown once.
    let human = server.env.ok(&["team", "reset-admin"]);
    assert!(human.stdout.contains("only once"), "{human}");
    let newest = human
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .unwrap()
        .trim()
        .to_string();

    assert_refused(
        &server.login("admin", "first-admin-password"),
        "invalid username or password",
    );
    assert_refused(
        &server.login("admin", password),
        "invalid username or password",
    );
    assert_eq!(server.login("admin", &newest).code, 0);
    assert!(server.ok_json(&["team", "teams", "list"])["teams"].is_array());
}

#[test]
fn init_on_a_fresh_host_prints_a_password_once_then_refuses() {
    let env = CliEnv::new();
    let r = env.ok(&["team", "init", "--json"]);
    let first = json_of(&r);
    assert_eq!(first["username"], "admin");
    assert!(first["password"].as_str().unwrap().len() >= 16);
    assert!(env.conduit_home.join("data/team.db").exists());
    let again = env.run(&["team", "init"]);
    assert_eq!(again.code, 1, "{again}");
    assert!(!again.stdout.contains(first["password"].as_str().unwrap()));
}

#[test]
fn a_member_manages_only_their_own_keys_and_cannot_administer() {
    let server = TeamServer::start("first-admin-password");
    assert_eq!(server.login("admin", "first-admin-password").code, 0);
    let r = run_with_stdin(
        &server.env,
        &[
            "team",
            "users",
            "create",
            "--subject",
            "carol",
            "--password-stdin",
            "--json",
        ],
        "carol-password-123\n",
    );
    assert_eq!(r.code, 0, "{r}");
    let carol = json_of(&r);
    let admins_key = server.ok_json(&["team", "keys", "create", "--name", "admin's"]);

    let r = server.login("carol", "carol-password-123");
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("(member)"), "{r}");
    let mine = server.ok_json(&["team", "keys", "create", "--name", "carol's"]);
    assert!(mine["key"].as_str().unwrap().starts_with("sk-proxy-"));
    let listed = server.ok_json(&["team", "keys", "list"]);
    let ids: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["id"].as_str().unwrap()]);
    assert_eq!(listed["keys"][0]["user_id"], carol["id"]);

    // Refused: another's key (404), admin routes (403), owners chosen by a member (local).
    let other = admins_key["id"].as_str().unwrap();
    assert_refused(&server.cli(&["team", "keys", "revoke", other]), "HTTP 404");
    assert_refused(
        &server.cli(&["team", "teams", "create", "--name", "x"]),
        "HTTP 403",
    );
    assert_refused(&server.cli(&["team", "users", "list"]), "HTTP 403");
    assert_refused(
        &server.cli(&["team", "keys", "create", "--name", "x", "--user", other]),
        "admin session",
    );
    let revoked = server.ok_json(&["team", "keys", "revoke", mine["id"].as_str().unwrap()]);
    assert_eq!(revoked["revoked"], true);

    let out = server.ok_json(&["team", "logout"]);
    assert_eq!(out["logged_out"], true);
    assert!(!server.env.conduit_home.join("team-session.json").exists());
    assert_refused(&server.cli(&["team", "keys", "list"]), "conduit team login");
}
