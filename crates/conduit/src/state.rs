//! The gateway's shared state, split into narrow sub-states that handlers pull with `FromRef`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use conduit_core::Upstream;

use crate::apikey::ApiKey;
use crate::config::DebugMode;

/// Where requests go.
#[derive(Clone)]
pub struct Upstreams(pub Arc<dyn Upstream>);

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

#[derive(Clone, FromRef)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub relay: RelaySettings,
    pub access: Access,
}
