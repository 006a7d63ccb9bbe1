//! Simulator configuration (library `SimConfig`, binary flags, `POST /_sim/config`).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

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

/// The model catalogue entry served by ListAvailableModels and accepted by the chat endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub model_id: String,
    pub max_input_tokens: u64,
    pub max_output_tokens: u64,
}

impl ModelInfo {
    fn new(id: &str) -> Self {
        ModelInfo {
            model_id: id.to_owned(),
            max_input_tokens: 200_000,
            max_output_tokens: 64_000,
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
}

/// Models served by default (dot-form ids, spec §5.1).
pub const DEFAULT_MODELS: [&str; 8] = [
    "auto",
    "claude-sonnet-4",
    "claude-sonnet-4.5",
    "claude-sonnet-4.6",
    "claude-haiku-4.5",
    "claude-opus-4.5",
    "claude-opus-4.6",
    "claude-opus-4.7",
];

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            device_interval: 1,
            device_expires_in: 600,
            issued_token_ttl: 3600,
            device_profiles: vec![Profile::new(
                "arn:aws:codewhisperer:us-east-1:638616132270:profile/AAAACCCCXXXX",
            )],
            profile_arn_policy: ProfileArnPolicy::Required,
            max_payload_bytes: 615_000,
            context_window_tokens: 200_000,
            models: DEFAULT_MODELS.iter().map(|m| ModelInfo::new(m)).collect(),
            refresh_outage: false,
            log_limit: None,
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
    }

    pub fn knows_model(&self, id: &str) -> bool {
        self.models.iter().any(|m| m.model_id == id)
    }
}
