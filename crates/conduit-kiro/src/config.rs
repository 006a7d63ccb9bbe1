//! The Kiro upstream's typed configuration: parsed and validated from raw values without IO.
//!
//! URLs that depend on facts only known once credentials are loaded (the API region lives in the
//! profile ARN, the auth region in the token file) are kept as optional overrides here and
//! resolved by [`KiroConfig::api_url_for`], [`KiroConfig::auth_url_for`] and
//! [`KiroConfig::sso_oidc_url_for`].

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The region every default falls back to.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The AWS Builder ID start URL (spec §2.2); any other start URL is IAM Identity Center.
pub const BUILDER_ID_START_URL: &str = "https://view.awsapps.com/start";

/// How `generateAssistantResponse` is framed on the wire (spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// `POST {api}/generateAssistantResponse`, `content-type: application/json` (Kiro IDE).
    #[default]
    RestJson,
    /// `POST {api}/`, `content-type: application/x-amz-json-1.0` plus `x-amz-target` (kiro-cli).
    AwsJson,
}

pub use conduit_upstream::retry::RetryPolicy;
pub use error::ConfigError;

mod error;

/// Everything the Kiro upstream needs, validated. Build with [`KiroConfig::from_env`] or
/// [`KiroConfig::new`] (defaults, for tests and embedding).
#[derive(Clone)]
pub struct KiroConfig {
    /// Chat API base (`CONDUIT_KIRO_API_URL`); default `https://q.{region of the profile ARN}.amazonaws.com`.
    pub api_url: Option<String>,
    /// Kiro desktop auth service (`CONDUIT_KIRO_AUTH_URL`); default `https://prod.{region}.auth.desktop.kiro.dev`.
    pub auth_url: Option<String>,
    /// AWS SSO OIDC (`CONDUIT_SSO_OIDC_URL`); default `https://oidc.{sso region}.amazonaws.com`.
    pub sso_oidc_url: Option<String>,
    /// The Entra ID token service base (`CONDUIT_IDP_URL`); default
    /// `https://login.microsoftonline.com`. When set, any host is accepted.
    pub idp_url: Option<String>,
    /// Kiro's sign-in page for social logins (`CONDUIT_KIRO_SIGNIN_URL`); default `https://app.kiro.dev`.
    pub signin_url: Option<String>,
    /// The one token file to use, `kiro-auth-token.json` format. Set by embedders and the
    /// account pool (one per account); when set, nothing else is looked at.
    pub creds_file: Option<PathBuf>,
    /// Look for credentials in the documented order (own store, IDE file, kiro-cli DB,
    /// `KIRO_REFRESH_TOKEN`) when `creds_file` is not set. [`KiroConfig::from_env`] turns it on.
    pub discover: bool,
    /// The Kiro IDE token file (`KIRO_CREDS_FILE`, default `~/.aws/sso/cache/kiro-auth-token.json`).
    pub ide_creds_file: Option<PathBuf>,
    /// kiro-cli's newer token file (`KIRO_CLI_CREDS_FILE`, default
    /// `~/.aws/sso/cache/kiro-auth-token-cli.json`), same shape as the IDE's.
    pub cli_creds_file: Option<PathBuf>,
    /// A kiro-cli SQLite database (`KIRO_CLI_DB_FILE`).
    pub cli_db_file: Option<PathBuf>,
    /// Where kiro-cli / Amazon Q keep their database when `KIRO_CLI_DB_FILE` is not set.
    pub cli_db_default_paths: Vec<PathBuf>,
    /// The IAM Identity Center / Builder ID start URL for `conduit login` (`CONDUIT_SSO_START_URL`).
    pub sso_start_url: String,
    /// The SSO region for `conduit login` (`CONDUIT_SSO_REGION`); see [`KiroConfig::sso_region`].
    pub sso_region: Option<String>,
    /// Where refresh tokens and client secrets go (`CONDUIT_SECRET_STORE`).
    pub secret_store: crate::auth::store::SecretStoreMode,
    /// A bare refresh token (`KIRO_REFRESH_TOKEN`); used when no token file is configured.
    pub refresh_token: Option<String>,
    /// The CodeWhisperer profile ARN (`PROFILE_ARN`); overrides the one in the token file.
    pub profile_arn: Option<String>,
    /// The auth / SSO region (`KIRO_REGION`) when the token file does not name one.
    pub region: String,
    /// How long to wait for the first body chunk after the headers (`FIRST_TOKEN_TIMEOUT`, seconds).
    pub first_token_timeout: Duration,
    /// How often to resend after a first-token timeout (`FIRST_TOKEN_MAX_RETRIES`).
    pub first_token_max_retries: u32,
    /// Longest silence tolerated between two body chunks (`STREAMING_READ_TIMEOUT`, seconds).
    pub stream_read_timeout: Duration,
    pub connect_timeout: Duration,
    /// Client model name → Kiro model id (`CONDUIT_KIRO_MODEL_OVERRIDES`, `a=b,c=d`).
    pub model_overrides: HashMap<String, String>,
    /// Where conduit keeps its own state (the rotated token of a `KIRO_REFRESH_TOKEN` login).
    pub data_dir: PathBuf,
    pub binding: Binding,
    pub retry: RetryPolicy,
    /// Refresh this long before the access token expires.
    pub refresh_margin: Duration,
    /// After a refresh failed for good, wait this long before calling the refresh endpoint again.
    pub refresh_failure_backoff: Duration,
    /// After a refresh failed transiently (network, 5xx), wait this long before trying again.
    pub refresh_retry_backoff: Duration,
    /// Tool descriptions longer than this are moved out of the tool spec (`TOOL_DESCRIPTION_MAX_LENGTH`).
    pub tool_description_max: usize,
    /// Largest request body the upstream accepts (`KIRO_MAX_PAYLOAD_BYTES`).
    pub max_payload_bytes: usize,
    /// How long a ListAvailableModels answer is used (`CONDUIT_MODELS_TTL`, seconds; default 3600).
    pub models_ttl: Duration,
    /// Stable id placed in the User-Agent (`KIRO_MACHINE_ID`); default a hash of `data_dir`.
    pub machine_id: String,
    /// Several accounts: `ACCOUNT_SYSTEM`, `CONDUIT_ACCOUNT_*` (see [`crate::accounts`]).
    pub accounts: crate::accounts::AccountsConfig,
}

impl fmt::Debug for KiroConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiroConfig")
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .field("sso_oidc_url", &self.sso_oidc_url)
            .field("idp_url", &self.idp_url)
            .field("creds_file", &self.creds_file)
            .field("cli_db_file", &self.cli_db_file)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("profile_arn", &self.profile_arn)
            .field("region", &self.region)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("first_token_max_retries", &self.first_token_max_retries)
            .field("binding", &self.binding)
            .field("retry", &self.retry)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl KiroConfig {
    /// Defaults with no credentials configured; tests fill in what they need.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            api_url: None,
            auth_url: None,
            sso_oidc_url: None,
            idp_url: None,
            signin_url: None,
            cli_creds_file: None,
            creds_file: None,
            discover: false,
            ide_creds_file: None,
            cli_db_file: None,
            cli_db_default_paths: Vec::new(),
            sso_start_url: BUILDER_ID_START_URL.to_string(),
            sso_region: None,
            secret_store: crate::auth::store::SecretStoreMode::default(),
            refresh_token: None,
            profile_arn: None,
            region: DEFAULT_REGION.to_string(),
            first_token_timeout: Duration::from_secs(15),
            first_token_max_retries: 3,
            stream_read_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(30),
            model_overrides: HashMap::new(),
            machine_id: default_machine_id(&data_dir),
            data_dir,
            binding: Binding::default(),
            retry: RetryPolicy::default(),
            refresh_margin: Duration::from_secs(300),
            refresh_failure_backoff: Duration::from_secs(60),
            refresh_retry_backoff: Duration::from_secs(5),
            tool_description_max: 10_000,
            max_payload_bytes: 600_000,
            models_ttl: crate::catalog::DEFAULT_TTL,
            accounts: crate::accounts::AccountsConfig::default(),
        }
    }

    /// Defaults pointing every service (chat, OIDC, desktop auth) at one base URL, as the
    /// simulator serves them.
    pub fn for_base_url(base_url: &str, data_dir: PathBuf) -> Self {
        let base = base_url.trim_end_matches('/').to_string();
        Self {
            api_url: Some(base.clone()),
            auth_url: Some(base.clone()),
            sso_oidc_url: Some(base),
            ..Self::new(data_dir)
        }
    }

    /// Reads the environment through `lookup` (no other IO) and validates every value.
    /// Credentials are then discovered in the documented order (docs/configuration.md,
    /// "Credential sources"): conduit's own store, the Kiro IDE token file (`KIRO_CREDS_FILE` or
    /// `$HOME/.aws/sso/cache/kiro-auth-token.json`), the kiro-cli database, `KIRO_REFRESH_TOKEN`.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        data_dir: PathBuf,
    ) -> Result<KiroConfig, String> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = KiroConfig::new(data_dir);
        c.api_url = get("CONDUIT_KIRO_API_URL")
            .map(|u| parse_url("CONDUIT_KIRO_API_URL", &u))
            .transpose()?;
        c.auth_url = get("CONDUIT_KIRO_AUTH_URL")
            .map(|u| parse_url("CONDUIT_KIRO_AUTH_URL", &u))
            .transpose()?;
        c.sso_oidc_url = get("CONDUIT_SSO_OIDC_URL")
            .map(|u| parse_url("CONDUIT_SSO_OIDC_URL", &u))
            .transpose()?;
        c.idp_url = get("CONDUIT_IDP_URL")
            .map(|u| parse_url("CONDUIT_IDP_URL", &u))
            .transpose()?;
        c.signin_url = get("CONDUIT_KIRO_SIGNIN_URL")
            .map(|u| parse_url("CONDUIT_KIRO_SIGNIN_URL", &u))
            .transpose()?;
        c.cli_creds_file = get("KIRO_CLI_CREDS_FILE").map(PathBuf::from);
        c.discover = true;
        c.ide_creds_file = get("KIRO_CREDS_FILE").map(PathBuf::from);
        c.cli_db_file = get("KIRO_CLI_DB_FILE").map(PathBuf::from);
        c.refresh_token = get("KIRO_REFRESH_TOKEN");
        if let Some(t) = &c.refresh_token {
            if t.contains("...") {
                return Err("KIRO_REFRESH_TOKEN looks truncated (contains \"...\"): copy the whole token from the token file".into());
            }
        }
        c.profile_arn = get("PROFILE_ARN");
        if let Some(arn) = &c.profile_arn {
            if region_of_profile_arn(arn).is_none() {
                return Err(format!(
                    "PROFILE_ARN {arn:?} is not a CodeWhisperer profile ARN (arn:aws:codewhisperer:REGION:ACCOUNT:profile/ID)"
                ));
            }
        }
        if let Some(region) = get("KIRO_REGION") {
            if !is_region(&region) {
                return Err(format!(
                    "KIRO_REGION {region:?} is not an AWS region name like us-east-1"
                ));
            }
            c.region = region;
        }
        if let Some(v) = get("FIRST_TOKEN_TIMEOUT") {
            c.first_token_timeout = parse_seconds("FIRST_TOKEN_TIMEOUT", &v)?;
        }
        if let Some(v) = get("FIRST_TOKEN_MAX_RETRIES") {
            c.first_token_max_retries = parse_num("FIRST_TOKEN_MAX_RETRIES", &v)?;
        }
        if let Some(v) = get("STREAMING_READ_TIMEOUT") {
            c.stream_read_timeout = parse_seconds("STREAMING_READ_TIMEOUT", &v)?;
        }
        if let Some(v) = get("TOOL_DESCRIPTION_MAX_LENGTH") {
            c.tool_description_max = parse_num("TOOL_DESCRIPTION_MAX_LENGTH", &v)?;
        }
        if let Some(v) = get("KIRO_MAX_PAYLOAD_BYTES") {
            c.max_payload_bytes = parse_num("KIRO_MAX_PAYLOAD_BYTES", &v)?;
        }
        if let Some(v) = get("CONDUIT_MODELS_TTL") {
            c.models_ttl = parse_seconds("CONDUIT_MODELS_TTL", &v)?;
        }
        if let Some(v) = get("CONDUIT_KIRO_BINDING") {
            c.binding = match v.to_ascii_lowercase().as_str() {
                "rest" | "rest-json" => Binding::RestJson,
                "json" | "aws-json" | "awsjson" | "amz-json-1.0" => Binding::AwsJson,
                _ => {
                    return Err(format!(
                        "CONDUIT_KIRO_BINDING {v:?} is not one of rest, aws-json"
                    ))
                }
            };
        }
        if let Some(v) = get("CONDUIT_KIRO_MODEL_OVERRIDES") {
            c.model_overrides = parse_overrides(&v)?;
        }
        if let Some(v) = get("KIRO_MACHINE_ID") {
            c.machine_id = v;
        }
        c.accounts = crate::accounts::AccountsConfig::from_env(get)?;
        if let Some(url) = get("CONDUIT_SSO_START_URL") {
            c.sso_start_url = parse_url("CONDUIT_SSO_START_URL", &url)?;
        }
        if let Some(region) = get("CONDUIT_SSO_REGION") {
            if !is_region(&region) {
                return Err(format!(
                    "CONDUIT_SSO_REGION {region:?} is not an AWS region name like ap-south-1"
                ));
            }
            c.sso_region = Some(region);
        }
        if let Some(v) = get("CONDUIT_SECRET_STORE") {
            c.secret_store = crate::auth::store::SecretStoreMode::parse(&v)?;
        }
        if let Some(home) = get("HOME").or_else(|| get("USERPROFILE")) {
            let home = PathBuf::from(home);
            if c.ide_creds_file.is_none() {
                c.ide_creds_file = Some(home.join(".aws/sso/cache/kiro-auth-token.json"));
            }
            if c.cli_creds_file.is_none() {
                c.cli_creds_file = Some(home.join(".aws/sso/cache/kiro-auth-token-cli.json"));
            }
            c.cli_db_default_paths = ["kiro-cli", "amazon-q"]
                .iter()
                .flat_map(|tool| {
                    [
                        home.join(".local/share").join(tool).join("data.sqlite3"),
                        home.join("Library/Application Support")
                            .join(tool)
                            .join("data.sqlite3"),
                    ]
                })
                .collect();
        }
        Ok(c)
    }

    /// The SSO region a sign-in uses: `CONDUIT_SSO_REGION`; else us-east-1 for Builder ID (it
    /// lives there) and `KIRO_REGION` for an IAM Identity Center start URL.
    pub fn sso_region(&self) -> String {
        match &self.sso_region {
            Some(r) => r.clone(),
            None if self.sso_start_url == BUILDER_ID_START_URL => DEFAULT_REGION.to_string(),
            None => self.region.clone(),
        }
    }

    /// The API base URL for a credential with this profile ARN: the API region is always the
    /// ARN's (spec §9.2), us-east-1 without one.
    pub fn api_url_for(&self, profile_arn: Option<&str>) -> String {
        self.api_url_in(
            profile_arn
                .and_then(region_of_profile_arn)
                .unwrap_or(DEFAULT_REGION),
        )
    }

    /// The API base URL in this region. `CONDUIT_KIRO_API_URL` may hold the literal `{region}`;
    /// without it the override is used as it is.
    pub fn api_url_in(&self, region: &str) -> String {
        match &self.api_url {
            Some(u) => u.replace("{region}", region),
            None => format!("https://q.{region}.amazonaws.com"),
        }
    }

    /// Whether the API URL follows the region (default hosts, or an override with `{region}`).
    pub fn api_url_follows_region(&self) -> bool {
        self.api_url.as_ref().is_none_or(|u| u.contains("{region}"))
    }

    /// Kiro's sign-in page for social logins.
    pub fn signin_url(&self) -> String {
        self.signin_url
            .clone()
            .unwrap_or_else(|| "https://app.kiro.dev".to_string())
    }

    /// The Kiro desktop auth service for this auth region.
    pub fn auth_url_for(&self, region: &str) -> String {
        self.auth_url
            .clone()
            .unwrap_or_else(|| format!("https://prod.{region}.auth.desktop.kiro.dev"))
    }

    /// The AWS SSO OIDC service for this SSO region.
    pub fn sso_oidc_url_for(&self, region: &str) -> String {
        self.sso_oidc_url
            .clone()
            .unwrap_or_else(|| format!("https://oidc.{region}.amazonaws.com"))
    }
}

/// Field 4 of `arn:aws:codewhisperer:{region}:{account}:profile/{id}`.
pub fn region_of_profile_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (arn_lit, _partition, service, region) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (arn_lit == "arn" && service == "codewhisperer" && is_region(region)).then_some(region)
}

fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').count() >= 3
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn parse_url(key: &str, v: &str) -> Result<String, ConfigError> {
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(ConfigError::NotUrl {
            key: key.to_string(),
            value: v.to_string(),
        })
    }
}

fn parse_seconds(key: &str, v: &str) -> Result<Duration, ConfigError> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(ConfigError::NotSeconds {
            key: key.to_string(),
            value: v.to_string(),
        }),
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse().map_err(|_| ConfigError::NotWholeNumber {
        key: key.to_string(),
        value: v.to_string(),
    })
}

fn parse_overrides(v: &str) -> Result<HashMap<String, String>, ConfigError> {
    let mut map = HashMap::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                map.insert(from.trim().to_string(), to.trim().to_string());
            }
            _ => return Err(ConfigError::BadOverride(pair.to_string())),
        }
    }
    Ok(map)
}

fn default_machine_id(data_dir: &std::path::Path) -> String {
    hex::encode(Sha256::digest(format!("conduit:{}", data_dir.display())))
}

#[cfg(test)]
mod tests;
