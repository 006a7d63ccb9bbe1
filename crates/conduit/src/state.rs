//! The gateway's shared state, split into narrow sub-states that handlers pull with `FromRef`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use conduit_core::{Error, Upstream};
use conduit_kiro::upstream::KiroUpstream;
use conduit_upstream::clock::SystemClock;
use conduit_upstream::router::{ModelRouter, RouterSettings};

use crate::apikey::ApiKey;
use crate::config::DebugMode;

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

#[derive(Clone, FromRef)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub kiro: KiroAccounts,
    pub relay: RelaySettings,
    pub access: Access,
    pub openai: OpenAiState,
}
