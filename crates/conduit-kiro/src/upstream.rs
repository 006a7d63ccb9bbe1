//! [`KiroUpstream`]: the [`conduit_core::Upstream`] for Kiro. Strings the phases together:
//! resolve the model → estimate input tokens → encode → send (retries, refresh, first-token
//! watchdog in [`crate::client`]; account choice and failover in [`crate::accounts`]) → decode
//! and assemble the event stream.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use conduit_core::upstream::SendFuture;
use conduit_core::{Error, ModelInfo, Request, Upstream, UpstreamStatus};

use crate::accounts::{AccountPool, Clock, SystemClock};
use crate::assemble::{events_from_body, AssembleOptions, Assembler};
use crate::auth::{Auth, CredentialStatus, Token};
use crate::client::{build_http, BodyStream, CallContext, KiroClient};
use crate::config::KiroConfig;
use crate::convert::{self, EncodeOptions};
use crate::models;

/// Kiro as an upstream: one account, or several behind an [`AccountPool`].
///
/// Credentials are loaded eagerly in [`KiroUpstream::new`] when they can be, but a missing or
/// unreadable token file does not fail construction: the gateway starts, `/health` reports the
/// problem, and every request retries loading (so `conduit login` needs no restart).
pub struct KiroUpstream {
    config: Arc<KiroConfig>,
    pool: AccountPool,
    client: KiroClient,
    http: reqwest::Client,
}

impl KiroUpstream {
    pub fn new(config: KiroConfig) -> Result<Self, Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// [`KiroUpstream::new`] with the clock account cooldowns are measured by (tests).
    pub fn with_clock(config: KiroConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let config = Arc::new(config);
        let http = build_http(&config)?;
        Ok(Self {
            pool: AccountPool::new(&config, &http, clock),
            client: KiroClient::new(Arc::clone(&config), http.clone()),
            http,
            config,
        })
    }

    /// The first account's credential state for `/health` (never contains a token).
    pub fn credential_status(&self) -> CredentialStatus {
        self.auth().status()
    }

    /// The first account's credential store, for callers that need a token.
    pub fn auth(&self) -> &Auth {
        &self.pool.accounts()[0].auth
    }

    /// The accounts and their scheduler.
    pub fn pool(&self) -> &AccountPool {
        &self.pool
    }

    /// Every account's usage and limits (getUsageLimits), for `GET /v1/usage`:
    /// `{"accounts":[{"id","label","profile_arn","healthy","cooldown_until","reason","usage"|null,"error"?}]}`.
    pub async fn usage(&self) -> serde_json::Value {
        self.pool.usage(&self.http).await
    }

    /// Sends on the session's account, failing over to the next one on quota, throttling, 5xx
    /// or dead credentials (only before the first event; later errors travel in the stream).
    async fn send_on_pool(
        &self,
        session: Option<&str>,
        body_for: &(dyn Fn(&Token) -> Result<Bytes, Error> + Send + Sync),
        ctx: CallContext,
    ) -> Result<BodyStream, Error> {
        let mut tried = Vec::new();
        let mut last = None;
        while let Some(index) = self.pool.pick(session, &tried) {
            let Some(account) = self.pool.account(index) else {
                break;
            };
            match self
                .client
                .generate_detailed(&account.auth, body_for, ctx)
                .await
            {
                Ok(body) => {
                    self.pool.succeeded(index);
                    return Ok(body);
                }
                Err(failure) => {
                    if !self.pool.failed(index, failure.cause) {
                        return Err(failure.error);
                    }
                    tried.push(index);
                    last = Some(failure.error);
                }
            }
        }
        Err(self.pool.exhausted(last))
    }

    async fn send_request(&self, request: Request) -> Result<conduit_core::EventStream, Error> {
        let resolved = models::resolve_model(&request.model, &self.config.model_overrides);
        let input_tokens = conduit_core::tokens::count_request(&request);
        let conversation_id = request
            .meta
            .session_id
            .as_deref()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string();
        let base_opts = EncodeOptions {
            model_id: resolved.kiro_id.clone(),
            profile_arn: None,
            conversation_id,
            tool_description_max: self.config.tool_description_max,
            max_payload_bytes: self.config.max_payload_bytes,
        };
        // Encoded once per profile ARN; a refresh rarely changes it.
        let cache: Mutex<Option<(Option<String>, Bytes)>> = Mutex::new(None);
        let body_for = |token: &Token| -> Result<Bytes, Error> {
            let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((arn, body)) = cached.as_ref() {
                if *arn == token.profile_arn {
                    return Ok(body.clone());
                }
            }
            let opts = EncodeOptions {
                profile_arn: token.profile_arn.clone(),
                ..base_opts.clone()
            };
            let body = Bytes::from(convert::encode_request_json(&request, &opts)?);
            *cached = Some((token.profile_arn.clone(), body.clone()));
            Ok(body)
        };
        let ctx = CallContext {
            input_tokens,
            context_window: resolved.context_window,
        };
        let body = self
            .send_on_pool(request.meta.session_id.as_deref(), &body_for, ctx)
            .await?;
        let assembler = Assembler::new(AssembleOptions {
            message_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            model: request.model.clone(),
            input_tokens,
            context_window: resolved.context_window,
            thinking: convert::thinking_requested(&request),
            tool_names: convert::tool_name_map(&request),
        });
        Ok(events_from_body(body, assembler))
    }
}

impl Upstream for KiroUpstream {
    fn send(&self, request: Request) -> SendFuture<'_> {
        Box::pin(self.send_request(request))
    }

    fn models(&self) -> Vec<ModelInfo> {
        models::catalog()
    }

    fn context_window(&self, model: &str) -> u32 {
        models::resolve_model(model, &self.config.model_overrides).context_window
    }

    fn status(&self) -> UpstreamStatus {
        if self.pool.len() > 1 {
            let (healthy, detail) = self.pool.status();
            return UpstreamStatus { healthy, detail };
        }
        let status = self.credential_status();
        UpstreamStatus {
            healthy: status.healthy,
            detail: serde_json::to_value(&status).unwrap_or(serde_json::Value::Null),
        }
    }
}
