//! Building the upstreams and the model router from the configuration: Kiro alone without a
//! config file (as before config files existed), else every `[[upstreams]]` table in file order
//! and its `[[routes]]`. Each upstream receives only its own piece of the configuration.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use conduit_core::Upstream;
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use conduit_upstream::clock::SystemClock;
use conduit_upstream::router::{ModelRouter, RouteRule, RouterSettings};

use crate::config::file::{FileConfig, UpstreamConfig};
use crate::config::GatewayConfig;
use crate::named::Named;
use crate::state::{KiroAccounts, Upstreams};

/// The upstream side of the gateway's state.
pub struct Wired {
    pub upstreams: Upstreams,
    pub kiro: KiroAccounts,
}

/// Build every configured upstream and the router over them. `env` is the process environment
/// (injected, so tests can give AWS credentials to one gateway without touching the process).
pub async fn wire(
    config: &GatewayConfig,
    file: Option<&FileConfig>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<Wired> {
    let Some(file) = file else {
        let kiro = kiro(config, env)?;
        let upstream: Arc<dyn Upstream> = kiro.clone();
        let upstreams = Upstreams::single(upstream).map_err(|e| anyhow!("{e}"))?;
        return Ok(Wired {
            upstreams,
            kiro: KiroAccounts(Some(kiro)),
        });
    };
    let mut list: Vec<Arc<dyn Upstream>> = Vec::new();
    let mut kiro_pool = None;
    for spec in &file.upstreams {
        let upstream: Arc<dyn Upstream> = match spec {
            UpstreamConfig::Kiro { name } => {
                let k = kiro(config, env)?;
                kiro_pool = Some(k.clone());
                Named::wrap(name, k)
            }
            UpstreamConfig::Bedrock(b) => crate::wiring_aws::bedrock(b, env)
                .await
                .with_context(|| in_file(file, &b.name))?,
            UpstreamConfig::Anthropic(a) => crate::wiring_aws::anthropic(a, env)
                .await
                .with_context(|| in_file(file, &a.name))?,
        };
        list.push(upstream);
    }
    let routes = file
        .routes
        .iter()
        .map(|r| RouteRule {
            models: r.models.clone(),
            upstreams: r.upstreams.clone(),
        })
        .collect();
    let settings = RouterSettings {
        cooldown: file.router.cooldown,
        credentials_cooldown: file.router.credentials_cooldown,
    };
    let router = ModelRouter::new(list, routes, settings, Arc::new(SystemClock))
        .map_err(|e| anyhow!("config file {}: {e}", file.path.display()))?;
    Ok(Wired {
        upstreams: Upstreams(Arc::new(router)),
        kiro: KiroAccounts(kiro_pool),
    })
}

fn in_file(file: &FileConfig, name: &str) -> String {
    format!(
        "config file {}: upstream `{name}` cannot start",
        file.path.display()
    )
}

fn kiro(
    config: &GatewayConfig,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<Arc<KiroUpstream>> {
    let kiro = KiroConfig::from_env(env, config.data_dir())
        .map_err(|e| anyhow!("invalid Kiro configuration: {e}"))?;
    Ok(Arc::new(
        KiroUpstream::new(kiro).map_err(|e| anyhow!("{e}"))?,
    ))
}
