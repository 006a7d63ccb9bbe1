//! The gateway's shared state, split into narrow sub-states that handlers pull with `FromRef`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use conduit_core::{Error, Upstream};
use conduit_kiro::upstream::KiroUpstream;
use conduit_upstream::clock::SystemClock;
use conduit_upstream::router::{ModelRouter, RouterSettings};

use crate::apikey::ApiKey;
use crate::config::DebugMode;
use crate::team::cache::AuthCache;
use crate::team::limit::Limiter;

/// Where requests go: the model router over every configured upstream (routes, failover,
/// cooldowns).
#[derive(Clone)]
pub struct Upstreams(pub Arc<ModelRouter>);

impl Upstreams {
    /// One upstream serving every model: Kiro without a config file, and tests.
    pub fn single(upstream: Arc<dyn Upstream>) -> Result<Self, Error> {
        let router = ModelRouter::new(
            vec![upstream],
            Vec::new(),
            RouterSettings {
                cooldown: Duration::from_secs(30),
                credentials_cooldown: Duration::from_secs(300),
            },
            Arc::new(SystemClock),
        )?;
        Ok(Self(Arc::new(router)))
    }
}

/// How requests are relayed and logged.
#[derive(Clone, Copy, Debug)]
pub struct RelaySettings {
    pub debug_mode: DebugMode,
    pub ping_interval: Duration,
}

/// Who may call the API.
#[derive(Clone)]
pub struct Access {
    pub key: Arc<ApiKey>,
}

/// The Kiro accounts, for `GET /v1/usage` (`None` when no Kiro upstream is configured).
#[derive(Clone, Default)]
pub struct KiroAccounts(pub Option<Arc<KiroUpstream>>);

/// What the OpenAI Responses dialect keeps between turns (`previous_response_id`).
#[derive(Clone, Default)]
pub struct OpenAiState {
    pub store: Arc<conduit_openai::responses::ResponseStore>,
}

/// Team mode's settings (environment, read once at start).
#[derive(Clone, Debug)]
pub struct TeamSettings {
    /// `SESSION_TTL_HOURS` (default 24): how long a `/auth/login` session lives.
    pub session_ttl: Duration,
    /// `PORTAL_IDLE_MINUTES` (default 30): a portal session unused this long is ended.
    pub portal_idle: Duration,
    /// Served over HTTPS (`--tls-cert`): cookies are `Secure`, the public base is `https://`.
    pub tls: bool,
    /// `CONDUIT_PUBLIC_URL`'s first entry (no trailing `/`).
    pub public_url: Option<String>,
    /// `ACCESS_TOKEN_TTL_SECONDS`: the gateway's own access tokens.
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_DAYS`: a device sign-in's hard end.
    pub refresh_ttl: Duration,
}

impl Default for TeamSettings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(24 * 3600),
            portal_idle: Duration::from_secs(30 * 60),
            tls: false,
            public_url: None,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(14 * 86_400),
        }
    }
}

/// Team mode (`conduit serve --team`): the store, the in-memory credentials, the per-key rate
/// limiter. Handlers take it as an extractor (`team: TeamState`), which answers 404 in
/// personal mode, where the team routes are not mounted anyway.
#[derive(Clone)]
pub struct TeamState {
    pub store: conduit_store::Store,
    pub cache: Arc<AuthCache>,
    pub limiter: Arc<Limiter>,
    /// Identity providers: discovery, key sets, token checks.
    pub oidc: Arc<crate::team::oidc::Registry>,
    /// The gateway's own token signer (Claude Code's gateway sign-in).
    pub signer: Arc<crate::team::oauth::Signer>,
    /// Spend: the ledger, prices, budgets.
    pub spend: Arc<crate::team::spend::Spend>,
    pub settings: TeamSettings,
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub kiro: KiroAccounts,
    pub relay: RelaySettings,
    /// Personal mode's key; unused in team mode (the team guard replaces it).
    pub access: Access,
    pub openai: OpenAiState,
    /// `Some` in team mode only.
    pub team: Option<TeamState>,
}

impl AppState {
    /// The team part, or a 404 in personal mode.
    pub fn team(&self) -> Result<&TeamState, Error> {
        self.team.as_ref().ok_or_else(|| {
            Error::new(
                conduit_core::ErrorKind::NotFound,
                "this endpoint exists in team mode only (`conduit serve --team`)",
            )
        })
    }
}

impl FromRequestParts<AppState> for TeamState {
    type Rejection = Response;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state
            .team()
            .cloned()
            .map_err(|e| crate::routes::anthropic::error_response(&e))
    }
}
