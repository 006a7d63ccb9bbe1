//! Shared by the `token_*` tests: a team gateway (`team_support`'s, over a temp SQLite store)
//! served on a loopback port, with a tap on `/oauth/token` that counts refresh requests and can
//! play a fault (503, or another process winning the refresh race); tokens issued through the
//! device flow approved in the store; and a developer's machine (`Dev`) running the real
//! `conduit` binary with its own HOME and CONDUIT_HOME, no terminal (`setsid`), stdin /dev/null.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use conduit_store::Role;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::team_support::{self, now, sha256_hex, Gateway, Setup};

pub const PASSWORD: &str = "correct horse battery";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the tap does to the next refresh request.
#[derive(Debug, Clone, Default)]
pub enum Fault {
    #[default]
    None,
    /// Answer 503 `temporarily_unavailable`.
    Unavailable,
    /// Another process wins the race: the same refresh token is rotated first and the winner's
    /// pair written to this file (a `file` store's secret), then the request goes on (and is
    /// refused as spent). One-shot.
    Winner(PathBuf),
}

/// The tap on `/oauth/token`.
#[derive(Default)]
pub struct Tap {
    /// Refresh-grant requests seen.
    pub refreshes: AtomicUsize,
    /// Authorization-code requests seen.
    pub codes: AtomicUsize,
    pub fault: Mutex<Fault>,
    app: OnceLock<Router>,
}

impl Tap {
    pub fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

/// A team gateway on a loopback port.
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub gw: Gateway,
    pub base: String,
    pub tap: Arc<Tap>,
    /// subject → user id.
    pub users: HashMap<String, String>,
}

impl World {
    /// A gateway with the users `member` and `other` (password [`PASSWORD`]).
    pub fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (gw, users) = rt.block_on(async {
            let (dir, store) = team_support::temp_store().await;
            let mut users = HashMap::new();
            for subject in ["member", "other"] {
                let id = team_support::user(&store, subject, Role::Member, Some(PASSWORD)).await;
                users.insert(subject.to_string(), id);
            }
            (
                team_support::gateway(dir, store, Setup::default()).await,
                users,
            )
        });
        let tap = Arc::new(Tap::default());
        let _ = tap.app.set(gw.app.clone());
        let app = gw
            .app
            .clone()
            .layer(axum::middleware::from_fn_with_state(tap.clone(), tapped));
        let base = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            conduit::routes::local_only::allow_port(port);
            tokio::spawn(async move {
                let svc = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, svc).await.unwrap();
            });
            // No sync task runs here: keep the cache fresh (revocations) while the CLI talks.
            let (cache, store) = (gw.team.cache.clone(), gw.team.store.clone());
            tokio::spawn(async move {
                loop {
                    let _ = cache.sync_now(&store).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            format!("http://127.0.0.1:{port}")
        });
        World {
            rt,
            gw,
            base,
            tap,
            users,
        }
    }

    /// POST a form to the gateway: status and JSON.
    pub fn form(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// GET with a bearer token: status and JSON.
    pub fn get(&self, path: &str, bearer: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// A sign-in for `subject` through the device flow (approved in the store as `/device`
    /// does): the token answer.
    pub fn sign_in(&self, subject: &str) -> Value {
        let (status, a) = self.form("/oauth/device_authorization", &[("surface", "claude_code")]);
        assert_eq!(status, 200, "{a}");
        let user_code = a["user_code"].as_str().unwrap().replace('-', "");
        let device_code = a["device_code"].as_str().unwrap().to_string();
        let store = &self.gw.store;
        self.rt.block_on(async {
            let row = store
                .device_by_user_code(&sha256_hex(&user_code))
                .await
                .unwrap()
                .expect("the device code by its user code's digest");
            let who = Some(self.users[subject].as_str());
            let actor = team_support::system();
            assert!(store
                .decide_device_code(&row.id, who, &actor)
                .await
                .unwrap());
        });
        let (status, t) = self.form(
            "/oauth/token",
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        );
        assert_eq!(status, 200, "{t}");
        t
    }

    /// A refresh grant from the test itself (not counted by the tap? it is: it goes through).
    pub fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    /// The profile a gateway-mode `conduit token login` writes for this gateway.
    pub fn profile(&self, store: &str, expires_at: i64, lifetime: u64) -> Value {
        let b = &self.base;
        json!({
            "mode": "gateway", "gateway": b, "issuer": b, "client_id": "conduit-cli",
            "authorization_endpoint": format!("{b}/oauth/authorize"),
            "token_endpoint": format!("{b}/oauth/token"),
            "revocation_endpoint": format!("{b}/oauth/revoke"),
            "ca_cert": null, "store": store, "user": null,
            "expires_at": expires_at, "lifetime_secs": lifetime,
        })
    }
}

/// Counts `/oauth/token` grants and plays the fault set in the tap.
async fn tapped(State(tap): State<Arc<Tap>>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/oauth/token" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            tap.refreshes.fetch_add(1, Ordering::SeqCst);
            let fault = std::mem::take(&mut *tap.fault.lock().unwrap());
            match fault {
                Fault::None => {}
                Fault::Unavailable => {
                    // Stays until changed.
                    tap.set(Fault::Unavailable);
                    let body = json!({"error": "temporarily_unavailable"});
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(body),
                    )
                        .into_response();
                }
                Fault::Winner(file) => {
                    let host = parts.headers.get("host").cloned().unwrap();
                    let mut first = axum::http::Request::post("/oauth/token")
                        .header("host", host)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Body::from(bytes.clone()))
                        .unwrap();
                    let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
                    first.extensions_mut().insert(ConnectInfo(peer));
                    let app = tap.app.get().unwrap().clone();
                    let won = app.oneshot(first).await.unwrap();
                    assert_eq!(won.status(), 200, "the winner's refresh");
                    let won = axum::body::to_bytes(won.into_body(), 1 << 20)
                        .await
                        .unwrap();
                    let won: Value = serde_json::from_slice(&won).unwrap();
                    let pair = json!({
                        "access_token": won["access_token"], "refresh_token": won["refresh_token"],
                        "expires_at": now() + won["expires_in"].as_i64().unwrap(),
                    });
                    std::fs::write(&file, pair.to_string()).unwrap();
                }
            }
        }
        Some("authorization_code") => {
            tap.codes.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// One `conduit` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} in {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// The token printed: exit 0 and stdout exactly one line.
    pub fn token(&self) -> &str {
        assert_eq!(self.code, 0, "{self}");
        let t = self
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{self}"));
        assert!(!t.is_empty() && !t.contains('\n'), "{self}");
        t
    }

    /// Exit 1, nothing on stdout, exactly one line on stderr; that line.
    pub fn one_line_failure(&self) -> &str {
        assert_eq!(self.code, 1, "{self}");
        assert_eq!(self.stdout, "", "{self}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{self}");
        lines[0]
    }
}

/// A developer's machine: its own HOME and CONDUIT_HOME.
pub struct Dev {
    pub root: PathBuf,
    pub home: PathBuf,
    pub conduit_home: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Dev {
    pub fn new() -> Dev {
        let root =
            std::env::temp_dir().join(format!("conduit-token-{}", uuid::Uuid::new_v4().simple()));
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Dev {
            conduit_home: home.join(".conduit"),
            home,
            root,
        }
    }

    pub fn tokens(&self) -> PathBuf {
        self.conduit_home.join("tokens")
    }

    pub fn secret_file(&self, profile: &str) -> PathBuf {
        self.tokens().join(format!("{profile}.secret.json"))
    }

    pub fn profile_file(&self, profile: &str) -> PathBuf {
        self.tokens().join(format!("{profile}.json"))
    }

    /// `conduit <args>` with no terminal (a new session: /dev/tty does not open), stdin
    /// /dev/null, a clean environment plus `env`.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("setsid");
        cmd.arg("-w").arg(env!("CARGO_BIN_EXE_conduit")).args(args);
        cmd.env_clear().envs(self.vars(env));
        cmd.current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The environment of a run: PATH, HOME, CONDUIT_HOME, the `file` store, and `env`.
    pub fn vars(&self, env: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".into(), self.home.display().to_string()),
            (
                "CONDUIT_HOME".into(),
                self.conduit_home.display().to_string(),
            ),
            ("LANG".into(), "C.UTF-8".into()),
            ("CONDUIT_TOKEN_STORE".into(), "file".into()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let started = Instant::now();
        let out = self.command(args, env).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// `conduit token --profile P`.
    pub fn helper(&self, profile: &str, env: &[(&str, &str)]) -> Run {
        self.run(&["token", "--profile", profile], env)
    }

    /// Store a profile and (file store) its secret as `conduit token login` would.
    pub fn seed(&self, profile: &str, world: &World, answer: &Value, expires_at: i64) {
        let lifetime = answer["expires_in"].as_u64().unwrap();
        self.write(
            &self.profile_file(profile),
            &world.profile("file", expires_at, lifetime),
        );
        self.write(
            &self.secret_file(profile),
            &json!({
                "access_token": answer["access_token"], "refresh_token": answer["refresh_token"],
                "expires_at": expires_at,
            }),
        );
    }

    pub fn write(&self, path: &Path, value: &Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, value.to_string()).unwrap();
    }

    pub fn read(&self, path: &Path) -> Option<Value> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    pub fn secret(&self, profile: &str) -> Option<Value> {
        self.read(&self.secret_file(profile))
    }

    pub fn profile(&self, profile: &str) -> Option<Value> {
        self.read(&self.profile_file(profile))
    }
}
