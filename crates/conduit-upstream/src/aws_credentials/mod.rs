//! Where an AWS-hosted upstream's requests get their authority (feature `aws-credentials`): an
//! API key (Bedrock's `AWS_BEARER_TOKEN_BEDROCK` or a configured variable, sent as
//! `Authorization: Bearer`), or AWS credentials for SigV4 ([`crate::sigv4`]) — static ones from
//! the (injected) environment, else AWS's own default chain from `aws-config` (shared profile,
//! SSO, web identity, ECS / IMDS), cached until shortly before they expire. Bedrock and Claude
//! Platform on AWS share it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::sigv4::AwsCredentials;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use conduit_core::{Error, ErrorKind, FailoverCause};

/// How one request is authorised.
#[derive(Clone)]
pub enum Auth {
    Bearer(String),
    SigV4(AwsCredentials),
}

enum Source {
    ApiKey {
        key: String,
        var: String,
    },
    Static(AwsCredentials),
    Chain {
        provider: SharedCredentialsProvider,
        profile: Option<String>,
    },
}

/// The credential source of one upstream. `Debug`-free on purpose: it holds secrets.
pub struct Credentials {
    source: Source,
    /// Chain credentials and when to fetch them again; a `tokio` mutex so that concurrent
    /// requests wait for the one fetch in progress.
    cached: tokio::sync::Mutex<Option<(AwsCredentials, Option<SystemTime>)>>,
}

/// Chain credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

impl Credentials {
    /// The API key if the variable `api_key_env` is set, else `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) from `env`, else the AWS default chain
    /// for `region` (with `profile`). Never fails: a chain that finds nothing fails at the
    /// first request, worded.
    pub async fn load(
        api_key_env: &str,
        region: &str,
        profile: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        match nonempty(env, api_key_env) {
            Some(key) => Self::from_source(Source::ApiKey {
                key,
                var: api_key_env.to_owned(),
            }),
            None => Self::aws(region, profile, env).await,
        }
    }

    /// AWS credentials only (no API key): `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    /// (+ `AWS_SESSION_TOKEN`) from `env`, else the AWS default chain for `region` and
    /// `profile`. Also what Claude Platform on AWS signs with.
    pub async fn aws(
        region: &str,
        profile: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let source = if let (Some(id), Some(secret)) = (
            nonempty(env, "AWS_ACCESS_KEY_ID"),
            nonempty(env, "AWS_SECRET_ACCESS_KEY"),
        ) {
            Source::Static(AwsCredentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: nonempty(env, "AWS_SESSION_TOKEN"),
            })
        } else {
            Source::Chain {
                provider: chain(region, profile).await,
                profile: profile.map(str::to_owned),
            }
        };
        Self::from_source(source)
    }

    /// Fixed AWS credentials (tests, embedding).
    pub fn fixed(credentials: AwsCredentials) -> Self {
        Self::from_source(Source::Static(credentials))
    }

    /// A fixed Bedrock API key (tests, embedding).
    pub fn api_key(key: impl Into<String>) -> Self {
        Self::from_source(Source::ApiKey {
            key: key.into(),
            var: "config".to_owned(),
        })
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// What a refusal names: `Bedrock API key` or `AWS credentials`.
    pub fn label(&self) -> &'static str {
        match self.source {
            Source::ApiKey { .. } => "Bedrock API key",
            _ => "AWS credentials",
        }
    }

    /// Where the credentials come from, for `/health` (never the secret).
    pub fn describe(&self) -> String {
        match &self.source {
            Source::ApiKey { var, .. } => format!("Bedrock API key ({var})"),
            Source::Static(c) => format!("AWS access key {} (environment)", c.access_key_id),
            Source::Chain {
                profile: Some(p), ..
            } => format!("AWS default credential chain (profile {p})"),
            Source::Chain { profile: None, .. } => "AWS default credential chain".to_owned(),
        }
    }

    /// The authority for one request; `upstream` names the upstream in errors
    /// (`Bedrock (bedrock-us)`).
    pub async fn get(&self, upstream: &str) -> Result<Auth, Error> {
        let provider = match &self.source {
            Source::ApiKey { key, .. } => return Ok(Auth::Bearer(key.clone())),
            Source::Static(c) => return Ok(Auth::SigV4(c.clone())),
            Source::Chain { provider, .. } => provider,
        };
        let mut cached = self.cached.lock().await;
        if let Some((creds, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|e| SystemTime::now() + REFRESH_BEFORE_EXPIRY < e);
            if fresh {
                return Ok(Auth::SigV4(creds.clone()));
            }
        }
        let got = provider.provide_credentials().await.map_err(|e| {
            Error::new(
                ErrorKind::Credentials,
                format!(
                    "{upstream} has no AWS credentials: {}. Set AWS_PROFILE or the upstream's \
                     `profile`, run `aws sso login`, or (Bedrock) set AWS_BEARER_TOKEN_BEDROCK",
                    error_chain(&e)
                ),
            )
            .with_cause(FailoverCause::Credentials)
        })?;
        let creds = AwsCredentials {
            access_key_id: got.access_key_id().to_owned(),
            secret_access_key: got.secret_access_key().to_owned(),
            session_token: got.session_token().map(str::to_owned),
        };
        *cached = Some((creds.clone(), got.expiry()));
        Ok(Auth::SigV4(creds))
    }
}

/// AWS's default credential chain, with an HTTPS client on rustls + ring (no aws-lc build).
async fn chain(region: &str, profile: Option<&str>) -> SharedCredentialsProvider {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(region.to_owned()));
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    let sdk = loader.load().await;
    match sdk.credentials_provider() {
        Some(p) => p,
        None => SharedCredentialsProvider::new(NoCredentials),
    }
}

fn nonempty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no credential provider is configured",
            ),
        ))
    }
}

/// Shared so the upstream and its status can hold it.
pub type SharedCredentials = Arc<Credentials>;

#[cfg(test)]
mod tests;
