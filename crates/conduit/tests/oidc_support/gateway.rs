//! A team gateway for the OIDC tests: a SQLite store in a temp dir with an admin and a member
//! (session tokens), the IdP registry (an optional environment IdP, a chosen JWKS cool-down)
//! followed by the cache, the real signer, and `routes::router` over a fake upstream.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{now, StubIdp};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use conduit::apikey::ApiKey;
use conduit::config::DebugMode;
use conduit::state::{
    Access, AppState, KiroAccounts, OpenAiState, RelaySettings, TeamSettings, TeamState, Upstreams,
};
use conduit::team::cache::AuthCache;
use conduit::team::limit::Limiter;
use conduit::team::oauth::Signer;
use conduit::team::oidc::{http_client, Registry};
use conduit_core::Upstream;
use conduit_store::{Actor, CredentialKind, NewCredential, NewIdp, NewUser, Role, Store};
use conduit_testkit::FakeUpstream;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const PORT: u16 = 8766;
pub const AUD: &str = "api://conduit";
pub const DOMAIN: &str = "corp.example";

pub struct Gw {
    dir: PathBuf,
    pub app: Router,
    pub team: TeamState,
    pub upstream: Arc<FakeUpstream>,
    /// Session tokens of an admin and a member.
    pub admin: String,
    pub member: String,
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn system() -> Actor {
    Actor {
        name: "test".into(),
        user_id: None,
        ip: None,
    }
}

pub fn env_idp(idp: &StubIdp, auto_provision: bool, role: Role) -> NewIdp {
    NewIdp {
        name: "sso".into(),
        issuer_url: idp.issuer.clone(),
        audience: AUD.into(),
        client_id: Some("conduit-web".into()),
        client_secret: Some("web-secret".into()),
        auto_provision,
        default_role: role,
        allowed_domains: vec![DOMAIN.into()],
        scopes: None,
        enabled: true,
    }
}

pub async fn session(store: &Store, subject: &str, role: Role) -> String {
    let new = NewUser {
        subject: subject.into(),
        email: None,
        role,
        team_id: None,
        password_hash: None,
    };
    let user = store.create_user(&new, &system()).await.unwrap();
    let secret = format!("cst_{}", hex::encode(rand::random::<[u8; 32]>()));
    let cred = NewCredential {
        kind: CredentialKind::Session,
        digest: hex::encode(Sha256::digest(secret.as_bytes())),
        prefix: format!("{}...", &secret[..16]),
        name: "test".into(),
        user_id: Some(user.id),
        team_id: None,
        rate_limit_rpm: None,
        expires_at: Some(now() + 3600),
    };
    store.create_credential(&cred, &system()).await.unwrap();
    secret
}

pub async fn gateway(env: Option<NewIdp>, cooldown: Option<Duration>) -> Gw {
    let dir = std::env::temp_dir().join(format!("conduit-team-oidc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open_sqlite(&dir.join("team.db")).await.unwrap();
    store.migrate().await.unwrap();
    let admin = session(&store, "admin", Role::Admin).await;
    let member = session(&store, "member", Role::Member).await;
    let cache = Arc::new(AuthCache::new());
    cache.sync_now(&store).await.unwrap();
    let mut registry = Registry::new(
        http_client(),
        env,
        Duration::from_secs(60),
        Duration::from_secs(3600),
    );
    if let Some(c) = cooldown {
        registry = registry.with_cooldown(c);
    }
    registry.load(&store).await.unwrap();
    let registry = Arc::new(registry);
    cache.follow_idps(registry.clone());
    let signer = Signer::load(
        &store,
        Duration::from_secs(30 * 86_400),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let team = TeamState {
        store,
        cache,
        limiter: Arc::new(Limiter::local()),
        oidc: registry,
        signer: Arc::new(signer),
        settings: TeamSettings::default(),
    };
    let upstream = Arc::new(FakeUpstream::new("fake").serving(["claude-*"]));
    let up: Arc<dyn Upstream> = upstream.clone();
    conduit::routes::local_only::allow_port(PORT);
    let app = conduit::routes::router(AppState {
        upstreams: Upstreams::single(up).unwrap(),
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
    Gw {
        dir,
        app,
        team,
        upstream,
        admin,
        member,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

pub async fn call(gw: &Gw, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("authorization", format!("Bearer {token}"))
        .header("anthropic-version", "2023-06-01");
    if body.is_some() {
        r = r.header("content-type", "application/json");
    }
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    let response = gw.app.clone().oneshot(r.body(body).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
    }
}

pub async fn messages(gw: &Gw, token: &str) -> Reply {
    let body = json!({"model": "claude-x", "max_tokens": 16,
                      "messages": [{"role": "user", "content": "hi"}]});
    call(gw, "POST", "/v1/messages", token, Some(body)).await
}

pub fn assert_refused(r: &Reply, status: u16, what: &str, token: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.json);
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        _ => "api_error",
    };
    assert_eq!(r.json["error"]["type"], kind, "{what}: {}", r.json);
    let retry = r.headers.get("x-should-retry").map(|v| v.to_str().unwrap());
    assert_eq!(retry, (status == 401).then_some("false"), "{what}");
    assert!(
        !r.json.to_string().contains(token),
        "{what}: the token echoed"
    );
}
