//! Simulator configuration (library `SimConfig`, binary flags, `POST /_sim/config`).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

pub use crate::catalog::ModelInfo;
use crate::model::Profile;

/// Whether chat requests must carry a top-level `profileArn` (spec §2.5; runtime.kiro.dev requires it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProfileArnPolicy {
    /// Missing `profileArn` → 400 `profileArn is required for this request.`
    #[default]
    Required,
    /// `profileArn` may be omitted.
    Optional,
}

impl std::str::FromStr for ProfileArnPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "required" => Ok(ProfileArnPolicy::Required),
            "optional" => Ok(ProfileArnPolicy::Optional),
            other => Err(format!(
                "unknown profileArn policy `{other}`: use `required` or `optional`"
            )),
        }
    }
}

/// Everything that can be configured when starting the sim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Address to bind; loopback by default.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Device-flow polling interval in seconds (0 disables `slow_down`).
    pub device_interval: u64,
    /// Device code lifetime in seconds.
    pub device_expires_in: u64,
    /// Lifetime of access tokens issued by the device flow, in seconds.
    pub issued_token_ttl: u64,
    /// Profiles given to accounts created by the device flow.
    pub device_profiles: Vec<Profile>,
    pub profile_arn_policy: ProfileArnPolicy,
    /// Requests above this many bytes answer 400 Improperly formed (spec §3.4 rule 15).
    pub max_payload_bytes: usize,
    /// Window used to compute `contextUsagePercentage` (request bytes / 4 as tokens).
    pub context_window_tokens: u64,
    pub models: Vec<ModelInfo>,
    /// While true, `POST /refreshToken` and the `refresh_token` grant of `POST /token` answer
    /// 500 (the token service is down); chat and the rest keep working.
    pub refresh_outage: bool,
    /// Keep only about this many request-log entries (the newest); `None` keeps all.
    pub log_limit: Option<usize>,
    /// The region the root (no `/region/{region}` prefix) stands for; `None` (the default) = the
    /// root does no region checks and ListAvailableProfiles there lists every profile.
    pub root_region: Option<String>,
    /// Delay of the first byte when a request asks for `thinking: {"type": "adaptive"}`.
    pub adaptive_delay_ms: u64,
    /// Send `metadataEvent {"tokenUsage": ...}` at the end of each streamed reply.
    pub token_usage: bool,
    /// The next this-many calls to any token endpoint answer 429 with `Retry-After: 1`.
    pub refresh_throttle: u32,
    /// Whether the Entra ID token endpoint returns a new refresh token.
    pub idp_rotate_refresh: bool,
}

/// The profile given to IdC accounts created by the device flow unless configured otherwise.
pub const DEFAULT_IDC_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:111111111111:profile/SIMIDCPROFILE";

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            device_interval: 1,
            device_expires_in: 600,
            issued_token_ttl: 3600,
            device_profiles: vec![Profile::new(DEFAULT_IDC_ARN)],
            profile_arn_policy: ProfileArnPolicy::Required,
            max_payload_bytes: 615_000,
            context_window_tokens: 200_000,
            models: crate::catalog::default_models(),
            refresh_outage: false,
            log_limit: None,
            root_region: None,
            adaptive_delay_ms: 2500,
            token_usage: true,
            refresh_throttle: 0,
            idp_rotate_refresh: true,
        }
    }
}

/// A partial update of the runtime-adjustable settings (`POST /_sim/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigPatch {
    #[serde(default)]
    pub device_interval: Option<u64>,
    #[serde(default)]
    pub device_expires_in: Option<u64>,
    #[serde(default)]
    pub issued_token_ttl: Option<u64>,
    #[serde(default)]
    pub device_profiles: Option<Vec<Profile>>,
    #[serde(default)]
    pub profile_arn_policy: Option<ProfileArnPolicy>,
    #[serde(default)]
    pub max_payload_bytes: Option<usize>,
    #[serde(default)]
    pub refresh_outage: Option<bool>,
    #[serde(default)]
    pub log_limit: Option<usize>,
    /// `""` sets it back to `None`.
    #[serde(default)]
    pub root_region: Option<String>,
    #[serde(default)]
    pub adaptive_delay_ms: Option<u64>,
    #[serde(default)]
    pub token_usage: Option<bool>,
    #[serde(default)]
    pub refresh_throttle: Option<u32>,
    #[serde(default)]
    pub idp_rotate_refresh: Option<bool>,
}

impl SimConfig {
    pub fn apply(&mut self, patch: ConfigPatch) {
        if let Some(v) = patch.device_interval {
            self.device_interval = v;
        }
        if let Some(v) = patch.device_expires_in {
            self.device_expires_in = v;
        }
        if let Some(v) = patch.issued_token_ttl {
            self.issued_token_ttl = v;
        }
        if let Some(v) = patch.device_profiles {
            self.device_profiles = v;
        }
        if let Some(v) = patch.profile_arn_policy {
            self.profile_arn_policy = v;
        }
        if let Some(v) = patch.max_payload_bytes {
            self.max_payload_bytes = v;
        }
        if let Some(v) = patch.refresh_outage {
            self.refresh_outage = v;
        }
        if let Some(v) = patch.log_limit {
            self.log_limit = (v > 0).then_some(v);
        }
        if let Some(v) = patch.root_region {
            self.root_region = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = patch.adaptive_delay_ms {
            self.adaptive_delay_ms = v;
        }
        if let Some(v) = patch.token_usage {
            self.token_usage = v;
        }
        if let Some(v) = patch.refresh_throttle {
            self.refresh_throttle = v;
        }
        if let Some(v) = patch.idp_rotate_refresh {
            self.idp_rotate_refresh = v;
        }
    }

    pub fn knows_model(&self, id: &str) -> bool {
        self.model(id).is_some()
    }

    pub fn model(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.model_id == id)
    }

    /// Add a model, or replace the one with the same id.
    pub fn upsert_model(&mut self, model: ModelInfo) {
        match self
            .models
            .iter_mut()
            .find(|m| m.model_id == model.model_id)
        {
            Some(slot) => *slot = model,
            None => self.models.push(model),
        }
    }

    /// Count one call to a token endpoint against `refresh_throttle`; true = answer 429.
    pub fn take_refresh_throttle(&mut self) -> bool {
        if self.refresh_throttle > 0 {
            self.refresh_throttle -= 1;
            true
        } else {
            false
        }
    }
}
