//! [`BedrockConfig`]: one `[[upstreams]]` table with `kind = "bedrock"`, parsed without IO, and
//! the values derived from it and the environment (endpoint, inference-profile prefix).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Where the Bedrock API key is read from unless the config names another variable.
pub const DEFAULT_API_KEY_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// One Bedrock upstream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BedrockConfig {
    /// The upstream's name in routes, logs and `/health` (`bedrock-us`).
    pub name: String,
    /// The AWS region (`us-east-1`); also the SigV4 scope.
    pub region: String,
    /// The runtime endpoint; else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, then `AWS_ENDPOINT_URL`,
    /// then `https://bedrock-runtime.{region}.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The AWS shared-config profile for the credential chain.
    #[serde(default)]
    pub profile: Option<String>,
    /// The SigV4 signing name (default `bedrock`).
    #[serde(default)]
    pub signing_service: Option<String>,
    /// The environment variable holding a Bedrock API key (default
    /// `AWS_BEARER_TOKEN_BEDROCK`); when it is set, requests carry `Authorization: Bearer`
    /// instead of a SigV4 signature.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Client model name → Bedrock id (an inference-profile id or an ARN), used as given.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
    /// The cross-region inference-profile prefix (`us`, `eu`, `apac`, `jp`, `au`, `global`,
    /// `us-gov`); default from the region.
    #[serde(default)]
    pub region_prefix: Option<String>,
}

impl BedrockConfig {
    /// A config with defaults for everything but the name and region.
    pub fn new(name: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            region: region.into(),
            endpoint: None,
            profile: None,
            signing_service: None,
            api_key_env: None,
            models: BTreeMap::new(),
            region_prefix: None,
        }
    }

    /// The runtime endpoint without a trailing `/`.
    pub fn endpoint(&self, env: &dyn Fn(&str) -> Option<String>) -> String {
        let url = self
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", self.region));
        url.trim().trim_end_matches('/').to_owned()
    }

    pub fn signing_service(&self) -> &str {
        self.signing_service.as_deref().unwrap_or("bedrock")
    }

    pub fn api_key_env(&self) -> &str {
        self.api_key_env.as_deref().unwrap_or(DEFAULT_API_KEY_ENV)
    }

    /// The inference-profile prefix: the configured one, else Claude Code's rule by region
    /// (`us-gov-*` → `us-gov`, `us-*` → `us`, `eu-*` → `eu`, `ap-*` → `apac`, else `global`).
    pub fn region_prefix(&self) -> String {
        if let Some(p) = self.region_prefix.as_deref().map(str::trim) {
            if !p.is_empty() {
                return p.trim_end_matches('.').to_owned();
            }
        }
        let r = self.region.as_str();
        let prefix = if r.starts_with("us-gov-") {
            "us-gov"
        } else if r.starts_with("us-") {
            "us"
        } else if r.starts_with("eu-") {
            "eu"
        } else if r.starts_with("ap-") {
            "apac"
        } else {
            "global"
        };
        prefix.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_by_region() {
        let cases = [
            ("us-east-1", None, "us"),
            ("us-gov-west-1", None, "us-gov"),
            ("eu-central-1", None, "eu"),
            ("ap-northeast-1", None, "apac"),
            ("ca-central-1", None, "global"),
            ("ap-northeast-1", Some("jp"), "jp"),
            ("us-east-1", Some("global."), "global"),
        ];
        for (region, configured, want) in cases {
            let mut c = BedrockConfig::new("b", region);
            c.region_prefix = configured.map(str::to_owned);
            assert_eq!(c.region_prefix(), want, "{region} {configured:?}");
        }
    }

    #[test]
    fn endpoint_order() {
        let c = BedrockConfig::new("b", "eu-west-1");
        assert_eq!(
            c.endpoint(&|_| None),
            "https://bedrock-runtime.eu-west-1.amazonaws.com"
        );
        let env = |k: &str| (k == "AWS_ENDPOINT_URL").then(|| "http://h:1/".to_owned());
        assert_eq!(c.endpoint(&env), "http://h:1");
        let mut c = c;
        c.endpoint = Some("http://x/region/eu-west-1/".into());
        assert_eq!(c.endpoint(&env), "http://x/region/eu-west-1");
    }
}
