//! The team gateway of the OAuth tests (built by `team_support`, through `routes::router` and
//! `oneshot`): users (a member, an admin, an auditor), their credentials, and helpers for form
//! posts, the device flow and approving a code the way `/device` does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use conduit_store::{CredentialKind, DeviceCode, Role};

use crate::team_support::{self, credential, user, Gateway, Setup};
pub use crate::team_support::{now, sha256_hex, system as actor, Answer};

pub const PORT: u16 = 8766;
pub const HOST: &str = "127.0.0.1:8766";
pub const BASE: &str = "http://127.0.0.1:8766";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The gateway (`store`, `team`, `app` through `Deref`) and its people.
pub struct Env {
    gateway: Gateway,
    /// name (`member`, `admin`, `auditor`) → user id.
    pub users: HashMap<&'static str, String>,
    /// `member_key`, `member_session`, `admin_session`, `auditor_session` → secret.
    pub secrets: HashMap<&'static str, String>,
}

impl Deref for Env {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

pub async fn env() -> Env {
    env_with(&[]).await
}

/// A gateway with these environment variables (`CONDUIT_PUBLIC_URL`, TTLs …).
pub async fn env_with(vars: &[(&str, &str)]) -> Env {
    let (dir, store) = team_support::temp_store().await;
    let mut users = HashMap::new();
    for (name, role) in [
        ("member", Role::Member),
        ("admin", Role::Admin),
        ("auditor", Role::Auditor),
    ] {
        users.insert(name, user(&store, name, role, None).await);
    }
    let mut secrets = HashMap::new();
    let in_a_day = Some(now() + 86_400);
    for (name, kind, owner) in [
        ("member_key", CredentialKind::Key, "member"),
        ("member_session", CredentialKind::Session, "member"),
        ("admin_session", CredentialKind::Session, "admin"),
        ("auditor_session", CredentialKind::Session, "auditor"),
    ] {
        let (secret, _) = credential(&store, kind, &users[owner], None, in_a_day).await;
        secrets.insert(name, secret);
    }
    let setup = Setup {
        vars,
        port: PORT,
        messages_lane: Some(7),
        ..Setup::default()
    };
    Env {
        gateway: team_support::gateway(dir, store, setup).await,
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
        team_support::send(&self.app, request).await
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
            a.json["device_code"].as_str().unwrap().to_string(),
            a.json["user_code"].as_str().unwrap().to_string(),
        )
    }

    /// The device code of a user code as shown, found (as `/device` finds it) by the digest of
    /// its normalised form.
    pub async fn device_row(&self, user_code: &str) -> Option<DeviceCode> {
        let normalised: String = user_code.chars().filter(|c| *c != '-').collect();
        let digest = sha256_hex(&normalised);
        self.store.device_by_user_code(&digest).await.unwrap()
    }

    /// Approve (`Some(user)`) or deny (`None`) a user code as `/device` would.
    pub async fn decide(&self, user_code: &str, user: Option<&str>) {
        let code = self
            .device_row(user_code)
            .await
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
        a.json["access_token"].as_str().unwrap().to_string(),
        a.json["refresh_token"].as_str().unwrap().to_string(),
    )
}

pub fn peer(request: &mut Request<Body>, ip: IpAddr) {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
}

/// A writer the tests read back: every log line of this test binary.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test binary: one global subscriber (a scoped one misses lines when other
/// tests' threads settle tracing's callsite cache first).
pub fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}
