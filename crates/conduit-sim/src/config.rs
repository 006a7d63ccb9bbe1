//! Simulator configuration (library `SimConfig`, binary flags, `POST /_sim/config`).

use std::collections::BTreeMap;
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
    /// Bedrock SigV4 credentials: access key id → secret access key.
    pub bedrock_credentials: BTreeMap<String, String>,
    /// Bedrock API keys accepted as `Authorization: Bearer <key>`.
    pub bedrock_api_keys: Vec<String>,
    /// SigV4 service names accepted in the credential scope of Bedrock calls.
    pub bedrock_signing_services: Vec<String>,
    /// Foundation model ids (`anthropic.claude-…`); `{geo}.{id}` profiles are derived.
    pub bedrock_models: Vec<String>,
    /// Application inference profile ARN → foundation model id.
    pub bedrock_application_profiles: BTreeMap<String, String>,
    /// `anthropic_beta` entries answered with 400 "invalid beta flag".
    pub bedrock_rejected_betas: Vec<String>,
    /// Largest accepted difference between `x-amz-date` and the sim's clock, in seconds.
    pub bedrock_max_clock_skew_secs: u64,
    /// `x-api-key` values accepted by the Anthropic Messages API.
    pub anthropic_api_keys: Vec<String>,
    /// First-party model names of the Anthropic API (dated `-YYYYMMDD` forms accepted too).
    pub anthropic_models: Vec<String>,
    /// `anthropic-beta` header values answered with 400 invalid_request_error.
    pub anthropic_rejected_betas: Vec<String>,
    /// A `ping` event is sent after `message_start` and during every longer silence.
    pub anthropic_ping_interval_ms: u64,
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
            bedrock_credentials: crate::bedrock::default_credentials(),
            bedrock_api_keys: vec![crate::bedrock::TEST_BEDROCK_API_KEY.to_owned()],
            bedrock_signing_services: vec!["bedrock".to_owned()],
            bedrock_models: crate::bedrock::DEFAULT_MODELS.map(str::to_owned).to_vec(),
            bedrock_application_profiles: BTreeMap::new(),
            bedrock_rejected_betas: crate::bedrock::DEFAULT_REJECTED_BETAS
                .map(str::to_owned)
                .to_vec(),
            bedrock_max_clock_skew_secs: 300,
            anthropic_api_keys: vec![crate::anthropic::TEST_API_KEY.to_owned()],
            anthropic_models: crate::anthropic::DEFAULT_MODELS.map(str::to_owned).to_vec(),
            anthropic_rejected_betas: Vec::new(),
            anthropic_ping_interval_ms: 10_000,
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
    #[serde(default)]
    pub bedrock_credentials: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub bedrock_api_keys: Option<Vec<String>>,
    #[serde(default)]
    pub bedrock_signing_services: Option<Vec<String>>,
    #[serde(default)]
    pub bedrock_models: Option<Vec<String>>,
    #[serde(default)]
    pub bedrock_application_profiles: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub bedrock_rejected_betas: Option<Vec<String>>,
    #[serde(default)]
    pub bedrock_max_clock_skew_secs: Option<u64>,
    #[serde(default)]
    pub anthropic_api_keys: Option<Vec<String>>,
    #[serde(default)]
    pub anthropic_models: Option<Vec<String>>,
    #[serde(default)]
    pub anthropic_rejected_betas: Option<Vec<String>>,
    #[serde(default)]
    pub anthropic_ping_interval_ms: Option<u64>,
}

impl SimConfig {
    pub fn apply(&mut self, mut patch: ConfigPatch) {
        self.apply_messages(&mut patch);
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

    /// The Bedrock and Anthropic part of a patch.
    fn apply_messages(&mut self, patch: &mut ConfigPatch) {
        fn set<T>(slot: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *slot = v;
            }
        }
        set(
            &mut self.bedrock_credentials,
            patch.bedrock_credentials.take(),
        );
        set(&mut self.bedrock_api_keys, patch.bedrock_api_keys.take());
        set(
            &mut self.bedrock_signing_services,
            patch.bedrock_signing_services.take(),
        );
        set(&mut self.bedrock_models, patch.bedrock_models.take());
        set(
            &mut self.bedrock_application_profiles,
            patch.bedrock_application_profiles.take(),
        );
        set(
            &mut self.bedrock_rejected_betas,
            patch.bedrock_rejected_betas.take(),
        );
        set(
            &mut self.bedrock_max_clock_skew_secs,
            patch.bedrock_max_clock_skew_secs.take(),
        );
        set(
            &mut self.anthropic_api_keys,
            patch.anthropic_api_keys.take(),
        );
        set(&mut self.anthropic_models, patch.anthropic_models.take());
        set(
            &mut self.anthropic_rejected_betas,
            patch.anthropic_rejected_betas.take(),
        );
        set(
            &mut self.anthropic_ping_interval_ms,
            patch.anthropic_ping_interval_ms.take(),
        );
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
