//! Shared by the team-mode test binaries: a SQLite team store in a temp dir (removed on drop),
//! users and credentials minted the way the API mints them, the team state built the way
//! `conduit serve --team` builds it (from environment variables, with an optional environment
//! IdP, JWKS cool-down and TLS flag), and the real router over a `FakeUpstream`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use conduit::apikey::ApiKey;
use conduit::config::DebugMode;
use conduit::state::{Access, AppState, KiroAccounts, OpenAiState, RelaySettings, TeamState};
use conduit::state::{TeamSettings, Upstreams};
use conduit::team::api::throttle::LoginThrottle;
use conduit::team::cache::AuthCache;
use conduit::team::limit::Limiter;
use conduit::team::oauth::Signer;
use conduit::team::oidc::{http_client, Registry};
use conduit_core::Upstream;
pub use conduit_store::testing::TempDir;
use conduit_store::{Actor, CredentialKind, NewCredential, NewIdp, NewUser, Role, Store};
use conduit_testkit::FakeUpstream;
use conduit_upstream::clock::ManualClock;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// A migrated SQLite team store (`team.db`) in a new temp dir, removed when the dir drops.
pub async fn temp_store() -> (TempDir, Store) {
    let (dir, _path, store) = conduit_store::testing::temp_sqlite().await.unwrap();
    (dir, store)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The actor the tests' own store writes are audited under.
pub fn system() -> Actor {
    Actor {
        name: "test".into(),
        user_id: None,
        ip: None,
    }
}

/// A user (with this password, if any); its id.
pub async fn user(store: &Store, subject: &str, role: Role, password: Option<&str>) -> String {
    let new = NewUser {
        subject: subject.into(),
        email: None,
        role,
        team_id: None,
        password_hash: password.map(|p| conduit::team::password::hash(p).unwrap()),
    };
    store.create_user(&new, &system()).await.unwrap().id
}

/// Mint a credential like the API does (secret → SHA-256 hex digest + prefix): `(secret, id)`.
pub async fn credential(
    store: &Store,
    kind: CredentialKind,
    user_id: &str,
    rpm: Option<i64>,
    expires_at: Option<i64>,
) -> (String, String) {
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
        rate_limit_rpm: rpm,
        expires_at,
    };
    let id = store.create_credential(&new, &system()).await.unwrap().id;
    (secret, id)
}

/// A new user with a session that runs for another hour; the session's secret.
pub async fn session(store: &Store, subject: &str, role: Role) -> String {
    let id = user(store, subject, role, None).await;
    let expires = Some(now() + 3600);
    credential(store, CredentialKind::Session, &id, None, expires)
        .await
        .0
}

/// How a test's team gateway differs from the default one.
pub struct Setup<'a> {
    /// Environment variables as `conduit serve --team` reads them (`CONDUIT_PUBLIC_URL`, TTLs …).
    pub vars: &'a [(&'a str, &'a str)],
    /// The environment's identity provider (overrides one the variables name).
    pub env_idp: Option<NewIdp>,
    /// The JWKS refetch cool-down (`None`: the registry's own).
    pub cooldown: Option<Duration>,
    /// Whether the gateway is reached over TLS (as its cookies see it).
    pub tls: bool,
    /// The port the host guard lets through.
    pub port: u16,
    pub debug_mode: DebugMode,
    /// Give the fake upstream a Messages lane (its `count_tokens` answers this).
    pub messages_lane: Option<u32>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            vars: &[],
            env_idp: None,
            cooldown: None,
            tls: false,
            port: 8766,
            debug_mode: DebugMode::Off,
            messages_lane: None,
        }
    }
}

/// The team state over `store` as `conduit serve --team` builds it, adjusted by `setup`.
pub async fn team_state(store: &Store, setup: &Setup<'_>) -> TeamState {
    let lookup = |name: &str| {
        let var = setup.vars.iter().find(|(n, _)| *n == name);
        var.map(|(_, v)| v.to_string())
    };
    let mut config = conduit::config::team::from_env(&lookup).unwrap();
    if setup.env_idp.is_some() {
        config.sso.env_idp = setup.env_idp.clone();
    }
    let mut team = match setup.cooldown {
        None => conduit::team::serve::team_state(store.clone(), &config)
            .await
            .unwrap(),
        Some(cooldown) => with_cooldown(store, &config, cooldown).await,
    };
    team.settings.tls = setup.tls;
    team
}

/// `serve::team_state` with a JWKS cool-down set before the registry is shared (the cache
/// follows the first registry it is given, so it cannot be swapped afterwards).
async fn with_cooldown(
    store: &Store,
    config: &conduit::config::team::TeamConfig,
    cooldown: Duration,
) -> TeamState {
    let sso = &config.sso;
    let cache = Arc::new(AuthCache::new());
    cache.sync_now(store).await.unwrap();
    let registry = Registry::new(
        http_client(),
        sso.env_idp.clone(),
        sso.clock_skew,
        sso.jwks_refresh,
    )
    .with_cooldown(cooldown);
    registry.load(store).await.unwrap();
    let registry = Arc::new(registry);
    cache.follow_idps(registry.clone());
    let signer = Signer::load(store, sso.signing_rotate, sso.access_ttl)
        .await
        .unwrap();
    TeamState {
        store: store.clone(),
        cache,
        limiter: Arc::new(Limiter::for_store(store)),
        oidc: registry,
        signer: Arc::new(signer),
        spend: Arc::new(conduit::team::spend::Spend::default()),
        settings: TeamSettings {
            session_ttl: config.session_ttl,
            portal_idle: config.portal_idle,
            tls: false,
            public_url: config.public_url.clone(),
            access_ttl: sso.access_ttl,
            refresh_ttl: sso.refresh_ttl,
        },
    }
}

/// A fake upstream serving `claude-*`.
pub fn fake_upstream(messages_lane: Option<u32>) -> Arc<FakeUpstream> {
    let fake = FakeUpstream::new("fake").serving(["claude-*"]);
    Arc::new(match messages_lane {
        Some(count) => fake.with_messages_lane(count),
        None => fake,
    })
}

/// The gateway's state around `team` (`None`: personal mode).
pub fn app_state(
    team: Option<TeamState>,
    upstream: Arc<dyn Upstream>,
    debug_mode: DebugMode,
) -> AppState {
    AppState {
        upstreams: Upstreams::single(upstream).unwrap(),
        kiro: KiroAccounts(None),
        relay: RelaySettings {
            debug_mode,
            ping_interval: Duration::from_secs(60),
        },
        access: Access {
            key: Arc::new(ApiKey::new("personal-key-unused-in-team-mode").unwrap()),
        },
        openai: OpenAiState::default(),
        team,
    }
}

/// The team API alone, its login throttle on `clock`.
pub fn api_router(team: TeamState, clock: Arc<ManualClock>) -> Router {
    let throttle = Arc::new(LoginThrottle::new(clock));
    let state = app_state(Some(team), fake_upstream(None), DebugMode::Off);
    conduit::team::api::router_with(throttle).with_state(state)
}

/// A team gateway: the store, its team state and the whole router (`routes::router`, host
/// guard included) over a fake upstream.
pub struct Gateway {
    pub dir: TempDir,
    pub store: Store,
    pub team: TeamState,
    pub upstream: Arc<FakeUpstream>,
    pub app: Router,
}

/// The gateway over `store` (seeded already: the cache loads it now).
pub async fn gateway(dir: TempDir, store: Store, setup: Setup<'_>) -> Gateway {
    let team = team_state(&store, &setup).await;
    let upstream = fake_upstream(setup.messages_lane);
    conduit::routes::local_only::allow_port(setup.port);
    let state = app_state(Some(team.clone()), upstream.clone(), setup.debug_mode);
    Gateway {
        dir,
        store,
        team,
        upstream,
        app: conduit::routes::router(state),
    }
}

/// What a request got back: status, headers, body text and its JSON (`Null` when not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

/// Send one request through `app`.
pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}
