//! The upstreams that speak Anthropic Messages themselves: Amazon Bedrock and the Anthropic API
//! (also Claude Platform on AWS), built from their config-file tables.

use std::sync::Arc;

use anyhow::anyhow;
use conduit_anthropic_api::{AnthropicApiConfig, AnthropicApiUpstream, AwsPlatform};
use conduit_bedrock::{BedrockConfig, BedrockUpstream};
use conduit_core::Upstream;

use crate::config::file::{AnthropicFile, BedrockFile};

pub async fn bedrock(
    b: &BedrockFile,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<Arc<dyn Upstream>> {
    let mut config = BedrockConfig::new(&b.name, &b.region);
    config.endpoint = b.endpoint.clone();
    config.profile = b.profile.clone();
    config.signing_service = b.signing_service.clone();
    config.api_key_env = b.api_key_env.clone();
    config.region_prefix = b.region_prefix.clone();
    config.models = b.models.clone();
    let upstream = BedrockUpstream::new(config, env)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok(Arc::new(upstream))
}

pub async fn anthropic(
    a: &AnthropicFile,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<Arc<dyn Upstream>> {
    let mut config = AnthropicApiConfig::new(&a.name);
    config.base_url = a.base_url.clone();
    config.api_key_env = a.api_key_env.clone();
    config.api_key = a.api_key.clone();
    config.workspace_id = a.workspace_id.clone();
    config.aws = a.aws.as_ref().map(|aws| AwsPlatform {
        region: aws.region.clone(),
        profile: aws.profile.clone(),
    });
    let upstream = AnthropicApiUpstream::new(config, env)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok(Arc::new(upstream))
}
