//! A team gateway over a real SQLite store in a temp dir with a `FakeUpstream`, through
//! `routes::router` and `oneshot`: users (a member, an admin, an auditor), their credentials,
//! and helpers for form posts, the device flow and approving a code the way `/device` does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use conduit::apikey::ApiKey;
use conduit::config::DebugMode;
use conduit::state::{
    Access, AppState, KiroAccounts, OpenAiState, RelaySettings, TeamState, Upstreams,
};
use conduit_core::Upstream;
use conduit_store::{Actor, CredentialKind, NewCredential, NewUser, Role, Store};
use conduit_testkit::FakeUpstream;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

pub const PORT: u16 = 8766;
pub const HOST: &str = "127.0.0.1:8766";
pub const BASE: &str = "http://127.0.0.1:8766";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub struct Env {
    dir: PathBuf,
    pub store: Store,
    pub team: TeamState,
    pub app: Router,
    /// name (`member`, `admin`, `auditor`) → user id.
    pub users: HashMap<&'static str, String>,
    /// `member_key`, `member_session`, `admin_session`, `auditor_session` → secret.
    pub secrets: HashMap<&'static str, String>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a request got back.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn actor() -> Actor {
    Actor {
        name: "cli@test".into(),
        user_id: None,
        ip: None,
    }
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn user(store: &Store, subject: &str, role: Role) -> String {
    let new = NewUser {
        subject: subject.into(),
        email: None,
        role,
        team_id: None,
        password_hash: None,
    };
    store.create_user(&new, &actor()).await.unwrap().id
}

async fn credential(store: &Store, kind: CredentialKind, user_id: &str) -> String {
    let random: [u8; 32] = rand::random();
    let secret = match kind {
        CredentialKind::Key => format!("sk-proxy-{}", hex::encode(random)),
        CredentialKind::Session => format!("cst_{}", hex::encode(random)),
    };
    let new = NewCredential {
        kind,
        digest: sha256_hex(&secret),
        prefix: format!("{}...", &secret[..16]),
        name: "test".into(),
        user_id: Some(user_id.into()),
        team_id: None,
        rate_limit_rpm: None,
        expires_at: Some(now() + 86_400),
    };
    store.create_credential(&new, &actor()).await.unwrap();
    secret
}

pub async fn env() -> Env {
    env_with(&[]).await
}

/// A gateway with these environment variables (`CONDUIT_PUBLIC_URL`, TTLs …).
pub async fn env_with(vars: &[(&str, &str)]) -> Env {
    let dir = std::env::temp_dir().join(format!("conduit-team-oauth-{}", uuid::Uuid::new_v4()));
    let store = Store::open_sqlite(&dir.join("team.db")).await.unwrap();
    store.migrate().await.unwrap();
    let mut users = HashMap::new();
    users.insert("member", user(&store, "member", Role::Member).await);
    users.insert("admin", user(&store, "admin", Role::Admin).await);
    users.insert("auditor", user(&store, "auditor", Role::Auditor).await);
    let mut secrets = HashMap::new();
    let (key, session) = (CredentialKind::Key, CredentialKind::Session);
    secrets.insert(
        "member_key",
        credential(&store, key, &users["member"]).await,
    );
    secrets.insert(
        "member_session",
        credential(&store, session, &users["member"]).await,
    );
    secrets.insert(
        "admin_session",
        credential(&store, session, &users["admin"]).await,
    );
    secrets.insert(
        "auditor_session",
        credential(&store, session, &users["auditor"]).await,
    );

    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    let config = conduit::config::team::from_env(&lookup).unwrap();
    let team = conduit::team::serve::team_state(store.clone(), &config)
        .await
        .unwrap();
    let upstream: Arc<dyn Upstream> = Arc::new(
        FakeUpstream::new("fake")
            .serving(["claude-*"])
            .with_messages_lane(7),
    );
    conduit::routes::local_only::allow_port(PORT);
    let app = conduit::routes::router(AppState {
        upstreams: Upstreams::single(upstream).unwrap(),
        kiro: KiroAccounts(None),
        relay: RelaySettings {
            debug_mode: DebugMode::Off,
            ping_interval: Duration::from_secs(60),
        },
        access: Access {
            key: Arc::new(ApiKey::new("personal-key-unused-in-team-mode").unwrap()),
        },
        openai: OpenAiState::default(),
        team: Some(team.clone()),
    });
    Env {
        dir,
        store,
        team,
        app,
        users,
        secrets,
    }
}

impl Env {
    /// Send a request (Host set, from 10.0.0.1 unless it already names a peer).
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        request.headers_mut().insert("host", HOST.parse().unwrap());
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            peer(&mut request, [10, 0, 0, 1].into());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// POST a form (`pairs` URL-encoded) from `ip`.
    pub async fn form_from(&self, path: &str, pairs: &[(&str, &str)], ip: IpAddr) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        peer(&mut request, ip);
        self.send(request).await
    }

    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        self.form_from(path, pairs, [10, 0, 0, 1].into()).await
    }

    /// `GET path` with these headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A new device authorization: `(device_code, user_code as shown)`.
    pub async fn start_device(&self) -> (String, String) {
        let a = self
            .form("/oauth/device_authorization", &[("surface", "claude_code")])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        (
            a.body["device_code"].as_str().unwrap().to_string(),
            a.body["user_code"].as_str().unwrap().to_string(),
        )
    }

    /// Approve (`Some(user)`) or deny (`None`) a user code as `/device` would.
    pub async fn decide(&self, user_code: &str, user: Option<&str>) {
        let normalised: String = user_code.chars().filter(|c| *c != '-').collect();
        let code = self
            .store
            .device_by_user_code(&sha256_hex(&normalised))
            .await
            .unwrap()
            .expect("the user code is stored by its digest");
        let user_id = user.map(|u| self.users[u].as_str());
        assert!(self
            .store
            .decide_device_code(&code.id, user_id, &actor())
            .await
            .unwrap());
    }

    pub async fn poll(&self, device_code: &str) -> Answer {
        self.form(
            "/oauth/token",
            &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A completed sign-in for `user`: `(access token, refresh token)`.
    pub async fn sign_in(&self, user: &str) -> (String, String) {
        let (device_code, user_code) = self.start_device().await;
        self.decide(&user_code, Some(user)).await;
        let a = self.poll(&device_code).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        tokens(&a)
    }
}

/// `(access_token, refresh_token)` of a token answer.
pub fn tokens(a: &Answer) -> (String, String) {
    (
        a.body["access_token"].as_str().unwrap().to_string(),
        a.body["refresh_token"].as_str().unwrap().to_string(),
    )
}

pub fn peer(request: &mut Request<Body>, ip: IpAddr) {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
}
