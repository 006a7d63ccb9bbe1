//! [`KiroUpstream`]: the [`conduit_core::Upstream`] for Kiro. Strings the phases together:
//! resolve the model against the live catalogue ([`crate::catalog`]) → encode → count input
//! tokens of the encoded body → refuse input + `max_tokens` over the window → send (retries,
//! refresh, first-token watchdog in [`crate::client`]; account choice and failover in
//! [`crate::accounts`]) → decode and assemble the event stream.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use conduit_core::upstream::SendFuture;
use conduit_core::{
    Call, Error, ErrorKind, ModelInfo, ModelsFuture, Request, ResolveFuture,
    ResolvedModel as CoreResolved, Upstream, UpstreamKind, UpstreamState, UpstreamStatus,
};
use futures::StreamExt;

use crate::accounts::{AccountPool, Clock, SystemClock};
use crate::assemble::{events_from_body, AssembleOptions, Assembler};
use crate::auth::{Auth, CredentialStatus, Token};
use crate::catalog::{self, Catalog};
use crate::client::{build_http, CallContext, KiroClient};
use crate::config::KiroConfig;
use crate::convert::{self, EncodeOptions};
use crate::models::{self, ModelList, ResolvedModel};

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
    catalog: Catalog,
}

impl KiroUpstream {
    pub fn new(config: KiroConfig) -> Result<Self, Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// [`KiroUpstream::new`] with the clock account cooldowns are measured by (tests).
    pub fn with_clock(config: KiroConfig, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let config = Arc::new(config);
        let http = build_http(&config)?;
        let pool = AccountPool::new(&config, &http, Arc::clone(&clock));
        Ok(Self {
            catalog: Catalog::new(pool.len(), config.models_ttl, clock),
            pool,
            client: KiroClient::new(Arc::clone(&config), http.clone()),
            http,
            config,
        })
    }

    /// The models requests are resolved against: every account's ListAvailableModels answer,
    /// fetched first where it is missing or older than the TTL (one fetch per account at a
    /// time, concurrently across accounts); the static table while none has answered.
    pub async fn model_list(&self) -> Arc<ModelList> {
        let refreshes = self.pool.accounts().iter().enumerate().map(|(i, account)| {
            self.catalog.refresh_with(i, || {
                catalog::fetch(&self.http, &account.config, &account.auth)
            })
        });
        futures::future::join_all(refreshes).await;
        self.catalog.merged()
    }

    /// The catalogue for `/v1/models` and `conduit configure-claude`, refreshed as
    /// [`KiroUpstream::model_list`] does: per model the client-facing id, the Kiro id, the
    /// window and output limit, whether `[1m]` ids apply (window ≥ 1M) and whether it reasons
    /// natively.
    pub async fn catalog_entries(&self) -> Vec<catalog::Entry> {
        catalog::entries(&*self.model_list().await)
    }

    fn resolve(&self, client_model: &str, list: &ModelList) -> ResolvedModel {
        let mut resolved = models::resolve_model(client_model, &self.config.model_overrides, list);
        if !list.live && resolved.request_fields_schema.is_none() {
            // Kiro never answered: what it published for the models known to reason natively.
            resolved.request_fields_schema = crate::reasoning::fallback_schema(&resolved.kiro_id);
        }
        resolved
    }

    fn encode_options(&self, request: &Request, resolved: &ResolvedModel) -> EncodeOptions {
        let conversation_id = request
            .meta
            .session_id
            .as_deref()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string();
        EncodeOptions {
            model_id: resolved.kiro_id.clone(),
            model_schema: resolved.request_fields_schema.clone(),
            profile_arn: None,
            conversation_id,
            tool_description_max: self.config.tool_description_max,
            max_payload_bytes: self.config.max_payload_bytes,
        }
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

    /// Sends `request` with the message id the prepare phase minted. The model is resolved
    /// again against the live catalogue (the same answer [`Upstream::resolve`] gave) because
    /// the encoding needs Kiro's schema for it; the window is checked on Kiro's own count of
    /// the encoded body, more exact than the gateway's estimate.
    async fn send_request(
        &self,
        request: Request,
        message_id: String,
    ) -> Result<conduit_core::EventStream, Error> {
        let list = self.model_list().await;
        let resolved = self.resolve(&request.model, &list);
        let base_opts = self.encode_options(&request, &resolved);
        // The body as Kiro will see it (minus the ARN) is what gets counted, as count_tokens
        // does; payload-size errors come out here, before any upstream call. It is serialised
        // once: the count reads those bytes and each account's body is spliced from them.
        let (counted, counted_json) = convert::encode_request_and_json(&request, &base_opts)?;
        let input_tokens = crate::count::json_tokens(&counted_json);
        // Only the bytes and the model fields are kept while the call runs, not the tree.
        let fields = counted.additional_model_request_fields;
        check_window(input_tokens, request.max_tokens, &resolved)?;
        // Encoded once per profile ARN (and Entra ID or not); a refresh rarely changes it.
        type Key = (Option<String>, bool);
        let cache: Mutex<Option<(Key, Bytes)>> = Mutex::new(None);
        let body_for = |token: &Token| -> Result<Bytes, Error> {
            let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
            // Entra ID (external IdP) accounts are refused any additionalModelRequestFields
            // (spec §9.3, §9.4): theirs goes without, and is cached apart.
            let external = token.kind.external_idp();
            if let Some(((arn, ext), body)) = cached.as_ref() {
                if *arn == token.profile_arn && *ext == external {
                    return Ok(body.clone());
                }
            }
            // The counted body with this ARN; encoded anew only if the ARN tips it over the
            // payload limit (then older history is trimmed as usual).
            let mut json = convert::json_for_account(
                &counted_json,
                fields.as_ref(),
                token.profile_arn.as_deref(),
                external,
            )?;
            if json.len() > base_opts.max_payload_bytes {
                let opts = EncodeOptions {
                    profile_arn: token.profile_arn.clone(),
                    model_schema: base_opts.model_schema.clone().filter(|_| !external),
                    ..base_opts.clone()
                };
                json = convert::encode_request_json(&request, &opts)?;
            }
            let body = Bytes::from(json);
            *cached = Some(((token.profile_arn.clone(), external), body.clone()));
            Ok(body)
        };
        let ctx = CallContext {
            input_tokens,
            context_window: resolved.context_window,
        };
        let options = AssembleOptions {
            message_id,
            model: request.model.clone(),
            input_tokens,
            context_window: resolved.context_window,
            thinking: convert::thinking_requested(&request),
            tool_names: convert::tool_name_map(&request),
            text_call_tools: convert::text_call_tools(&request),
            after_tool_result: convert::ends_with_tool_result(&request),
        };
        let session = request.meta.session_id.as_deref();
        // Account choice and failover: `AccountPool::send`.
        let (account, body) = self
            .pool
            .send(&self.client, session, &body_for, ctx)
            .await?;
        let events = events_from_body(body, Assembler::new(options.clone()));
        if !options.after_tool_result {
            return Ok(self.pool.meter(account, events));
        }
        // After a tool result, a turn with reasoning only is sent once more (then reported as
        // an error, never as `end_turn`); the assembler says so before its first block.
        match first_block(events).await {
            Peeked::Complete(events) => Ok(self.pool.meter(account, events)),
            Peeked::Incomplete(error) => {
                tracing::warn!("{}; sending the request once more", error.message);
                let (account, body) = self
                    .pool
                    .send(&self.client, session, &body_for, ctx)
                    .await?;
                let events = events_from_body(body, Assembler::new(options));
                Ok(self.pool.meter(account, events))
            }
        }
    }
}

enum Peeked {
    /// The stream, with the events read so far put back in front.
    Complete(conduit_core::EventStream),
    Incomplete(Error),
}

/// Reads `events` up to the first one that is not `MessageStart`: an
/// [`ErrorKind::IncompleteTurn`] there means the turn had reasoning only.
async fn first_block(mut events: conduit_core::EventStream) -> Peeked {
    let mut seen = Vec::new();
    while let Some(item) = events.next().await {
        match item {
            Err(e) if e.kind == ErrorKind::IncompleteTurn => return Peeked::Incomplete(e),
            Ok(event @ conduit_core::Event::MessageStart { .. }) => seen.push(Ok(event)),
            other => {
                seen.push(other);
                break;
            }
        }
    }
    Peeked::Complete(Box::pin(futures::stream::iter(seen).chain(events)))
}

/// Refuses, before any upstream call, a request whose input plus `max_tokens` (capped at the
/// model's output limit: no reply can be longer) exceeds the window, in Anthropic's wording,
/// on which Claude Code retries with a smaller `max_tokens` or compacts.
fn check_window(
    input_tokens: u32,
    max_tokens: Option<u32>,
    model: &ResolvedModel,
) -> Result<(), Error> {
    let Some(max) = max_tokens.map(|m| m.min(model.max_output_tokens)) else {
        return Ok(());
    };
    let (input, limit) = (u64::from(input_tokens), u64::from(model.context_window));
    let total = input + u64::from(max);
    if total <= limit {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::ContextOverflow {
            tokens: total,
            max: limit,
        },
        format!(
            "input length and `max_tokens` exceed context limit: {input} + {max} > {limit}, \
             decrease input length or `max_tokens` and try again"
        ),
    ))
}

impl KiroUpstream {
    /// Sends `request` as its own call (the prepare phase's work done here): tests and callers
    /// that hold a `KiroUpstream` rather than a router.
    pub fn send(&self, request: Request) -> SendFuture<'_> {
        let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        Box::pin(self.send_request(request, message_id))
    }
}

impl Upstream for KiroUpstream {
    fn id(&self) -> &str {
        "kiro"
    }

    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Kiro
    }

    /// Kiro serves every name: unknown ones map to a family's model, or pass through.
    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let list = self.model_list().await;
            let r = self.resolve(model, &list);
            Some(CoreResolved {
                client: model.to_owned(),
                upstream: r.kiro_id,
                context_window: r.context_window,
                max_output_tokens: r.max_output_tokens,
            })
        })
    }

    /// The prepare phase's message id is used for every event; the model and the window check
    /// are Kiro's own (see `send_request`).
    fn send(&self, call: Call) -> SendFuture<'_> {
        Box::pin(self.send_request(call.request, call.message_id))
    }

    fn models(&self) -> Vec<ModelInfo> {
        catalog::model_infos(&self.catalog.merged())
    }

    fn list_models(&self) -> ModelsFuture<'_> {
        Box::pin(async move { catalog::model_infos(&*self.model_list().await) })
    }

    fn context_window(&self, model: &str) -> u32 {
        self.resolve(model, &self.catalog.merged()).context_window
    }

    /// The encoded Kiro body's tokens, as [`KiroUpstream`] counts before sending (last known
    /// catalogue; no fetch). A request that cannot be encoded counts as the client sent it.
    fn count_tokens(&self, request: &Request) -> u32 {
        let resolved = self.resolve(&request.model, &self.catalog.merged());
        match convert::encode_request_and_json(request, &self.encode_options(request, &resolved)) {
            Ok((_, json)) => crate::count::json_tokens(&json),
            Err(_) => conduit_core::tokens::count_request(request),
        }
    }

    /// Several accounts: `{"accounts":[…]}`; one: its credential status. Either way each account
    /// carries `state`, `reason`, `credits_used` and `kind` ([`AccountPool::status`]).
    fn status(&self) -> UpstreamStatus {
        let (healthy, detail) = self.pool.status();
        let reason = (!healthy)
            .then(|| {
                detail
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned)
            })
            .flatten();
        UpstreamStatus {
            id: self.id().to_owned(),
            kind: UpstreamKind::Kiro,
            state: if healthy {
                UpstreamState::Ready
            } else {
                UpstreamState::NeedsCredentials
            },
            reason,
            cooldown_until: None,
            detail,
        }
    }
}
