//! [`AnthropicApiConfig`]: one `[[upstreams]]` table with `kind = "anthropic"`.

use serde::Deserialize;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_API_KEY_ENV: &str = "ANTHROPIC_API_KEY";
/// The `anthropic-version` sent when the client named none (canonical lane).
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// One Anthropic Messages upstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AnthropicApiConfig {
    /// The upstream's name in routes, logs and `/health`.
    pub name: String,
    /// Default `https://api.anthropic.com`; with `aws`,
    /// `https://aws-external-anthropic.{region}.api.aws`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the key (default `ANTHROPIC_API_KEY`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The key itself (prefer `api_key_env`: config files get shared).
    #[serde(default)]
    pub api_key: Option<String>,
    /// `anthropic-workspace-id` for every request (required by Claude Platform on AWS).
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Claude Platform on AWS: sign with SigV4 (service `aws-external-anthropic`).
    #[serde(default)]
    pub aws: Option<AwsPlatform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AwsPlatform {
    pub region: String,
    /// The AWS shared-config profile for the credential chain.
    #[serde(default)]
    pub profile: Option<String>,
}

impl AnthropicApiConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: None,
            api_key_env: None,
            api_key: None,
            workspace_id: None,
            aws: None,
        }
    }

    /// The base URL without a trailing `/`.
    pub fn base_url(&self) -> String {
        let url = match (&self.base_url, &self.aws) {
            (Some(u), _) => u.clone(),
            (None, Some(aws)) => format!("https://aws-external-anthropic.{}.api.aws", aws.region),
            (None, None) => DEFAULT_BASE_URL.to_owned(),
        };
        url.trim().trim_end_matches('/').to_owned()
    }

    pub fn api_key_env(&self) -> &str {
        self.api_key_env.as_deref().unwrap_or(DEFAULT_API_KEY_ENV)
    }
}
