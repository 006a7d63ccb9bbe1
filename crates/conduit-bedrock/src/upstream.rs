//! [`BedrockUpstream`]: strings the phases together for both lanes. `send` (either lane)
//! returns once the first event has arrived, so an exception in the first frame is an `Err` a
//! router can fail over on; later failures travel inside the stream.

use std::sync::Arc;

use bytes::Bytes;
use conduit_anthropic::upstream::{
    canonical_stream, encode_request, EventDecoder, DEFAULT_MAX_TOKENS,
};
use conduit_core::{
    Call, CountFuture, Error, ErrorKind, EventStream, FailoverCause, MessagesCall, MessagesFuture,
    MessagesReply, MessagesUpstream, ModelInfo, RawEvent, RawEventStream, ResolveFuture,
    ResolvedModel, SendFuture, Upstream, UpstreamKind, UpstreamState, UpstreamStatus,
};
use conduit_upstream::transport::{build_http, HttpSettings};
use conduit_upstream::trouble::Trouble;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use crate::betas::{is_beta_rejection, BetaCache};
use crate::body::{bedrock_body, requested_betas};
use crate::client::{Action, BedrockClient};
use crate::config::BedrockConfig;
use crate::models::{self, BedrockModel};
use crate::stream::{rewrite_message, StreamDecoder};
use crate::Credentials;
use crate::{count, errors};

/// One Bedrock runtime endpoint (region) with one credential source.
pub struct BedrockUpstream {
    config: BedrockConfig,
    prefix: String,
    client: BedrockClient,
    betas: BetaCache,
    /// The last failure that makes this upstream unusable until fixed (credentials, data
    /// retention), for `/health`; cleared by a success.
    trouble: Trouble,
}

impl BedrockUpstream {
    /// Reads credentials as [`Credentials::load`] does (`env` stands for the process
    /// environment) and builds the HTTP client. Missing credentials do not fail construction:
    /// `/health` and each request report them.
    pub async fn new(
        config: BedrockConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let credentials = Credentials::load(
            config.api_key_env(),
            &config.region,
            config.profile.as_deref(),
            env,
        )
        .await;
        Self::with_credentials(config, env, credentials)
    }

    /// With the given credentials instead of the environment's (tests, embedding).
    pub fn with_credentials(
        config: BedrockConfig,
        env: &dyn Fn(&str) -> Option<String>,
        credentials: Credentials,
    ) -> Result<Self, Error> {
        let http = build_http(&HttpSettings::default())?;
        let client = BedrockClient {
            http,
            endpoint: config.endpoint(env),
            region: config.region.clone(),
            service: config.signing_service().to_owned(),
            name: config.name.clone(),
            credentials: Arc::new(credentials),
        };
        Ok(Self {
            prefix: config.region_prefix(),
            config,
            client,
            betas: BetaCache::new(),
            trouble: Trouble::default(),
        })
    }

    /// The Bedrock model for a client's name; `None` when this upstream does not serve it.
    pub fn model(&self, client: &str) -> Option<BedrockModel> {
        models::resolve(client, &self.prefix, &self.config.models)
    }

    /// The learned beta capabilities.
    pub fn betas(&self) -> &BetaCache {
        &self.betas
    }

    /// POSTs the InvokeModel body for `client_body` to `path_id`, betas filtered by what is
    /// known; a refused beta is learned and the request sent once more without it.
    async fn invoke(
        &self,
        model: &BedrockModel,
        path_id: &str,
        action: Action,
        client_body: &Map<String, Value>,
        requested: &[String],
    ) -> Result<reqwest::Response, Error> {
        let key = model.invoke_id.as_str();
        let mut betas = self.betas.filter(key, requested);
        let default_max = model.max_output_tokens.min(DEFAULT_MAX_TOKENS);
        let mut retried = false;
        loop {
            let body = bedrock_body(client_body, &betas, default_max);
            let bytes = match action {
                Action::CountTokens => count::wrap(&body)?,
                _ => serde_json::to_vec(&body).map_err(|e| {
                    Error::internal(format!("cannot serialise the Bedrock body: {e}"))
                })?,
            };
            match self.client.post(path_id, action, Bytes::from(bytes)).await {
                Ok(response) => {
                    self.betas.learn_accepted(key, &betas);
                    self.note(None);
                    return Ok(response);
                }
                Err(e)
                    if !retried
                        && !betas.is_empty()
                        && e.kind == ErrorKind::InvalidRequest
                        && is_beta_rejection(&e.message) =>
                {
                    let refused = self.betas.learn_rejected(key, &betas, &e.message);
                    if refused.is_empty() {
                        return Err(e);
                    }
                    tracing::info!(upstream = %self.config.name, model = key, betas = ?refused, "Bedrock refused betas; sending once more without them");
                    betas.retain(|b| !refused.contains(b));
                    retried = true;
                }
                Err(e) => {
                    self.note(Some(&e));
                    return Err(e);
                }
            }
        }
    }

    /// The stream of a successful `invoke-with-response-stream`, once its first event came.
    async fn stream(
        &self,
        model: &BedrockModel,
        client_body: &Map<String, Value>,
        betas: &[String],
    ) -> Result<RawEventStream, Error> {
        let response = self
            .invoke(model, &model.invoke_id, Action::Stream, client_body, betas)
            .await?;
        let decoder = StreamDecoder::new(
            model.client.clone(),
            self.config.name.clone(),
            self.client.credentials.label(),
        );
        let mut events = Box::pin(raw_events(response, decoder, self.config.name.clone()));
        match events.next().await {
            Some(Ok(first)) => Ok(Box::pin(futures::stream::iter([Ok(first)]).chain(events))),
            Some(Err(e)) => {
                self.note(Some(&e));
                Err(e)
            }
            None => Err(Error::new(
                ErrorKind::UpstreamProtocol,
                format!(
                    "Bedrock ({}) ended the stream before its first event",
                    self.config.name
                ),
            )
            .with_cause(FailoverCause::ServerError)),
        }
    }

    fn resolved(&self, client: &str) -> Result<BedrockModel, Error> {
        self.model(client).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "model `{client}` is not served by Bedrock ({})",
                    self.config.name
                ),
            )
            .with_cause(FailoverCause::ModelUnavailable)
        })
    }

    /// A call's model: resolved again from the client's name (for the foundation id and the
    /// `[1m]` flag), with the id the prepare phase resolved.
    fn call_model(&self, resolved: &ResolvedModel) -> Result<BedrockModel, Error> {
        let mut model = self.resolved(&resolved.client)?;
        model.invoke_id.clone_from(&resolved.upstream);
        Ok(model)
    }

    async fn send_canonical(&self, call: Call) -> Result<EventStream, Error> {
        let model = self.call_model(&call.model)?;
        let Value::Object(body) = encode_request(&call.request, &model.invoke_id) else {
            return Err(Error::internal(
                "the Messages encoder did not produce an object",
            ));
        };
        let betas = requested_betas(std::iter::empty(), &body, model.one_m);
        let raw = self.stream(&model, &body, &betas).await?;
        let decoder = EventDecoder::new(call.message_id, call.model.client);
        Ok(canonical_stream(raw, decoder))
    }

    async fn send_lossless(&self, call: MessagesCall) -> Result<MessagesReply, Error> {
        let model = self.call_model(&call.model)?;
        let betas = requested_betas(
            call.header_values("anthropic-beta"),
            &call.body,
            model.one_m,
        );
        if call.stream {
            return Ok(MessagesReply::Stream(
                self.stream(&model, &call.body, &betas).await?,
            ));
        }
        let response = self
            .invoke(&model, &model.invoke_id, Action::Invoke, &call.body, &betas)
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.client.network_error(&e))?;
        let mut message: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!(
                    "Bedrock ({}) answered with a body that is not a message: {e}",
                    self.config.name
                ),
            )
        })?;
        message.remove("amazon-bedrock-invocationMetrics");
        rewrite_message(&mut message, &model.client);
        let json = serde_json::to_vec(&message).map_err(|e| Error::internal(e.to_string()))?;
        Ok(MessagesReply::Json(Bytes::from(json)))
    }

    async fn count_lossless(&self, call: MessagesCall) -> Result<u32, Error> {
        let model = self.call_model(&call.model)?;
        let Some(foundation) = model.foundation_id.clone() else {
            return Err(Error::invalid_request(format!(
                "Bedrock ({}) cannot count tokens for `{}`: its foundation model is not known",
                self.config.name, model.invoke_id
            )));
        };
        let betas = requested_betas(
            call.header_values("anthropic-beta"),
            &call.body,
            model.one_m,
        );
        let response = self
            .invoke(&model, &foundation, Action::CountTokens, &call.body, &betas)
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.client.network_error(&e))?;
        count::parse(&bytes)
    }

    /// Remembers (or, with `None`, clears) a failure that needs a person: refused credentials
    /// or the data-retention opt-in.
    fn note(&self, error: Option<&Error>) {
        self.trouble.note(error, errors::is_data_retention);
    }
}

/// The client-facing events of a streaming response.
fn raw_events(
    response: reqwest::Response,
    mut decoder: StreamDecoder,
    upstream: String,
) -> impl Stream<Item = Result<RawEvent, Error>> + Send {
    async_stream::stream! {
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    yield Err(Error::new(ErrorKind::UpstreamProtocol, format!("Bedrock ({upstream}) cut the stream: {e}")));
                    return;
                }
            };
            for item in decoder.push(&chunk) {
                let stop = item.is_err();
                yield item;
                if stop { return; }
            }
        }
        if let Some(e) = decoder.finish() { yield Err(e); }
    }
}

impl Upstream for BedrockUpstream {
    fn id(&self) -> &str {
        &self.config.name
    }

    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Bedrock
    }

    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a> {
        let resolved = self.model(model).map(|m| ResolvedModel {
            client: m.client,
            upstream: m.invoke_id,
            context_window: m.context_window,
            max_output_tokens: m.max_output_tokens,
        });
        Box::pin(std::future::ready(resolved))
    }

    fn send(&self, call: Call) -> SendFuture<'_> {
        Box::pin(self.send_canonical(call))
    }

    fn models(&self) -> Vec<ModelInfo> {
        let mut list = models::listed(&self.prefix);
        for name in self.config.models.keys() {
            if !list.iter().any(|m| &m.id == name) {
                if let Some(m) = self.model(name) {
                    list.push(ModelInfo {
                        id: name.clone(),
                        display_name: name.clone(),
                        context_window: m.context_window,
                        max_output_tokens: m.max_output_tokens,
                    });
                }
            }
        }
        list
    }

    fn context_window(&self, model: &str) -> u32 {
        self.model(model).map_or(200_000, |m| m.context_window)
    }

    fn status(&self) -> UpstreamStatus {
        let trouble = self.trouble.get();
        let (state, reason) = match trouble {
            Some((state, reason)) => (state, Some(reason)),
            None => (UpstreamState::Ready, None),
        };
        UpstreamStatus {
            id: self.config.name.clone(),
            kind: UpstreamKind::Bedrock,
            state,
            reason,
            cooldown_until: None,
            detail: serde_json::json!({
                "region": self.config.region,
                "endpoint": self.client.endpoint,
                "region_prefix": self.prefix,
                "credentials": self.client.credentials.describe(),
                "betas": self.betas.snapshot(),
            }),
        }
    }

    fn messages(&self) -> Option<&dyn MessagesUpstream> {
        Some(self)
    }
}

impl MessagesUpstream for BedrockUpstream {
    fn send_messages(&self, call: MessagesCall) -> MessagesFuture<'_> {
        Box::pin(self.send_lossless(call))
    }

    fn count_messages_tokens(&self, call: MessagesCall) -> CountFuture<'_> {
        Box::pin(self.count_lossless(call))
    }
}
