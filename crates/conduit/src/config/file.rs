//! The config file (`conduit serve --config FILE`, `CONDUIT_CONFIG`): which upstreams exist,
//! which models go to which of them, and the router's cooldowns. Parsed and validated without
//! IO into a typed [`FileConfig`]; every error names the file, the line and the key.
//!
//! Upstream tables are one flat shape with `kind` deciding which keys apply (rather than an
//! internally tagged enum) so that every key keeps its position for the error message.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// A config file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FileConfig {
    pub path: PathBuf,
    /// In file order (the order models go to when no route matches).
    pub upstreams: Vec<UpstreamConfig>,
    pub routes: Vec<RouteConfig>,
    pub router: RouterConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamConfig {
    /// The Kiro account pool (credentials from `conduit login` / `KIRO_CREDS_FILE`, as without
    /// a config file).
    Kiro {
        name: String,
    },
    Bedrock(BedrockFile),
    Anthropic(AnthropicFile),
}

impl UpstreamConfig {
    pub fn name(&self) -> &str {
        match self {
            UpstreamConfig::Kiro { name } => name,
            UpstreamConfig::Bedrock(b) => &b.name,
            UpstreamConfig::Anthropic(a) => &a.name,
        }
    }
}

/// `kind = "bedrock"`: Amazon Bedrock's InvokeModel in one region.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BedrockFile {
    pub name: String,
    pub region: String,
    /// Else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, `AWS_ENDPOINT_URL`, then AWS's own host.
    pub endpoint: Option<String>,
    /// A profile of `~/.aws/config` for the credentials chain.
    pub profile: Option<String>,
    /// SigV4 service name (default `bedrock`).
    pub signing_service: Option<String>,
    /// Inference-profile prefix (`us`, `eu`, `apac`, `global`); default from the region.
    pub region_prefix: Option<String>,
    /// The variable holding a Bedrock API key (default `AWS_BEARER_TOKEN_BEDROCK`).
    pub api_key_env: Option<String>,
    /// Client model name → Bedrock model id (an inference profile or an ARN).
    pub models: BTreeMap<String, String>,
}

/// `kind = "anthropic"`: the Anthropic Messages API, or anything that speaks it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnthropicFile {
    pub name: String,
    /// Default `https://api.anthropic.com`.
    pub base_url: Option<String>,
    /// The environment variable holding the key (default `ANTHROPIC_API_KEY`).
    pub api_key_env: Option<String>,
    /// The key itself (prefer `api_key_env`: a file is easier to leak than the environment).
    pub api_key: Option<String>,
    /// `anthropic-workspace-id` for Claude Platform on AWS.
    pub workspace_id: Option<String>,
    /// Claude Platform on AWS: SigV4 (service `aws-external-anthropic`) instead of an API key.
    pub aws: Option<AwsFile>,
}

/// `aws = { region = "us-east-1", profile = "work" }` of an `anthropic` upstream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AwsFile {
    pub region: String,
    /// A profile of `~/.aws/config` for the credentials chain.
    pub profile: Option<String>,
}

/// `[[routes]]`: client model globs (`*`, `?`) → upstream names in order of preference.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    pub models: Vec<String>,
    pub upstreams: Vec<String>,
}

/// `[router]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterConfig {
    /// How long an upstream rests after a throttle, a 5xx or a timeout.
    pub cooldown: Duration,
    /// How long after its credentials were refused.
    pub credentials_cooldown: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(30),
            credentials_cooldown: Duration::from_secs(300),
        }
    }
}

/// A config file that cannot be used; the message names the file, line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    upstreams: Vec<Spanned<RawUpstream>>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
    router: Option<RawRouter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    name: Spanned<String>,
    kind: Spanned<Kind>,
    region: Option<Spanned<String>>,
    endpoint: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    signing_service: Option<Spanned<String>>,
    region_prefix: Option<Spanned<String>>,
    models: Option<Spanned<BTreeMap<String, String>>>,
    base_url: Option<Spanned<String>>,
    api_key_env: Option<Spanned<String>>,
    api_key: Option<Spanned<String>>,
    workspace_id: Option<Spanned<String>>,
    aws: Option<Spanned<RawAws>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Kiro,
    Bedrock,
    Anthropic,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: String,
    profile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    models: Spanned<Vec<String>>,
    upstreams: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouter {
    cooldown_seconds: Option<u64>,
    credentials_cooldown_seconds: Option<u64>,
}

/// Read and check the file at `path`.
pub fn load(path: &Path) -> Result<FileConfig, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        FileError(format!(
            "cannot read the config file {}: {e} (given by --config or CONDUIT_CONFIG)",
            path.display()
        ))
    })?;
    parse(path, &text)
}

/// Check the text of a config file; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, FileError> {
    let at = |span: Option<Range<usize>>, msg: String| {
        let line = span
            .map(|s| format!(", line {}", line_of(text, s.start)))
            .unwrap_or_default();
        FileError(format!("config file {}{line}: {msg}", path.display()))
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let msg = e.message().trim_end().to_string();
        at(e.span(), msg)
    })?;
    let mut upstreams = Vec::new();
    let mut names = HashSet::new();
    let mut kiro_seen = false;
    for table in raw.upstreams {
        let span = table.span();
        let u = table.into_inner();
        let name = u.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(at(
                Some(u.name.span()),
                "`name` is empty: give each upstream a name".into(),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(at(
                Some(u.name.span()),
                format!("`name = \"{name}\"` is used twice: upstream names must be unique"),
            ));
        }
        if *u.kind.get_ref() == Kind::Kiro {
            if kiro_seen {
                return Err(at(
                    Some(u.kind.span()),
                    "a second `kind = \"kiro\"` upstream: conduit has one Kiro account pool \
                     (add accounts with `conduit login` or `conduit accounts import`)"
                        .into(),
                ));
            }
            kiro_seen = true;
        }
        let _ = span;
        upstreams.push(upstream(u, name, &at)?);
    }
    let mut routes = Vec::new();
    for table in raw.routes {
        let span = table.span();
        let r = table.into_inner();
        if r.models.get_ref().is_empty() {
            return Err(at(
                Some(r.models.span()),
                "`models` is empty: list at least one model glob, e.g. [\"claude-*\"]".into(),
            ));
        }
        if r.upstreams.get_ref().is_empty() {
            return Err(at(
                Some(span),
                "`upstreams` is empty: list the upstream names to use, in order of preference"
                    .into(),
            ));
        }
        let mut list = Vec::new();
        for u in r.upstreams.into_inner() {
            if !names.contains(u.get_ref().as_str()) {
                let known: Vec<&str> = upstreams.iter().map(UpstreamConfig::name).collect();
                return Err(at(
                    Some(u.span()),
                    format!(
                        "route upstream `{}` is not defined: define it in an [[upstreams]] table \
                         (defined: {})",
                        u.get_ref(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            list.push(u.into_inner());
        }
        routes.push(RouteConfig {
            models: r.models.into_inner(),
            upstreams: list,
        });
    }
    if upstreams.is_empty() {
        return Err(at(
            None,
            "no [[upstreams]]: define at least one (kind = \"kiro\", \"bedrock\" or \"anthropic\")"
                .into(),
        ));
    }
    let mut router = RouterConfig::default();
    if let Some(r) = raw.router {
        if let Some(s) = r.cooldown_seconds {
            router.cooldown = Duration::from_secs(s);
        }
        if let Some(s) = r.credentials_cooldown_seconds {
            router.credentials_cooldown = Duration::from_secs(s);
        }
    }
    Ok(FileConfig {
        path: path.to_path_buf(),
        upstreams,
        routes,
        router,
    })
}

/// The typed upstream of one `[[upstreams]]` table, refusing keys its kind does not take.
fn upstream(
    u: RawUpstream,
    name: String,
    at: &dyn Fn(Option<Range<usize>>, String) -> FileError,
) -> Result<UpstreamConfig, FileError> {
    let kind = *u.kind.get_ref();
    let kind_name = match kind {
        Kind::Kiro => "kiro",
        Kind::Bedrock => "bedrock",
        Kind::Anthropic => "anthropic",
    };
    let bedrock_keys = [
        ("region", u.region.as_ref().map(Spanned::span)),
        ("endpoint", u.endpoint.as_ref().map(Spanned::span)),
        ("profile", u.profile.as_ref().map(Spanned::span)),
        (
            "signing_service",
            u.signing_service.as_ref().map(Spanned::span),
        ),
        ("region_prefix", u.region_prefix.as_ref().map(Spanned::span)),
        ("models", u.models.as_ref().map(Spanned::span)),
    ];
    let anthropic_keys = [
        ("base_url", u.base_url.as_ref().map(Spanned::span)),
        ("api_key", u.api_key.as_ref().map(Spanned::span)),
        ("workspace_id", u.workspace_id.as_ref().map(Spanned::span)),
        ("aws", u.aws.as_ref().map(Spanned::span)),
    ];
    let shared_keys = [("api_key_env", u.api_key_env.as_ref().map(Spanned::span))];
    let foreign: Vec<_> = match kind {
        Kind::Kiro => bedrock_keys
            .iter()
            .chain(anthropic_keys.iter())
            .chain(shared_keys.iter())
            .collect(),
        Kind::Bedrock => anthropic_keys.iter().collect(),
        Kind::Anthropic => bedrock_keys.iter().collect(),
    };
    if let Some((key, span)) = foreign.into_iter().find(|(_, s)| s.is_some()) {
        return Err(at(
            span.clone(),
            format!("`{key}` does not apply to upstream `{name}` (kind = \"{kind_name}\")"),
        ));
    }
    let s = |v: Option<Spanned<String>>| v.map(Spanned::into_inner);
    Ok(match kind {
        Kind::Kiro => UpstreamConfig::Kiro { name },
        Kind::Bedrock => {
            let Some(region) = u.region.map(Spanned::into_inner) else {
                return Err(at(
                    Some(u.name.span()),
                    format!("upstream `{name}` (kind = \"bedrock\") needs `region`, e.g. region = \"us-east-1\""),
                ));
            };
            UpstreamConfig::Bedrock(BedrockFile {
                name,
                region,
                endpoint: s(u.endpoint),
                profile: s(u.profile),
                signing_service: s(u.signing_service),
                region_prefix: s(u.region_prefix),
                api_key_env: s(u.api_key_env),
                models: u.models.map(Spanned::into_inner).unwrap_or_default(),
            })
        }
        Kind::Anthropic => {
            if let (Some(_), Some(k)) = (&u.api_key_env, &u.api_key) {
                return Err(at(
                    Some(k.span()),
                    format!("upstream `{name}` has both `api_key` and `api_key_env`: keep one"),
                ));
            }
            UpstreamConfig::Anthropic(AnthropicFile {
                name,
                base_url: s(u.base_url),
                api_key_env: s(u.api_key_env),
                api_key: s(u.api_key),
                workspace_id: s(u.workspace_id),
                aws: u.aws.map(|a| {
                    let a = a.into_inner();
                    AwsFile {
                        region: a.region,
                        profile: a.profile,
                    }
                }),
            })
        }
    })
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
