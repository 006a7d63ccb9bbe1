//! [`AnthropicApiUpstream`]: the phases of both lanes (the client's body and headers, or the
//! canonical request through the codec) over [`client`]'s HTTP. `send` (either lane) returns
//! once the first event has arrived, so an error before any content is an `Err` a router can
//! fail over on.

mod client;

use conduit_anthropic::upstream::{canonical_stream, encode_request, EventDecoder};
use conduit_core::{
    Call, CountFuture, Error, ErrorKind, EventStream, MessagesCall, MessagesFuture, MessagesReply,
    MessagesUpstream, ModelInfo, ResolveFuture, ResolvedModel, SendFuture, Upstream, UpstreamKind,
    UpstreamState, UpstreamStatus,
};
use conduit_upstream::aws_credentials::Credentials;
use conduit_upstream::transport::{build_http, HttpSettings};
use conduit_upstream::trouble::Trouble;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use self::client::{header_value, json_bytes};
use crate::config::AnthropicApiConfig;

const SIGNING_SERVICE: &str = "aws-external-anthropic";
const CONTEXT_1M_BETA: &str = "context-1m-2025-08-07";
/// Error bodies longer than this are not read further.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Fields of a Messages body that `count_tokens` does not take.
const NOT_COUNTED: [&str; 8] = [
    "stream",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "service_tier",
];

enum ApiAuth {
    Key(String),
    Aws {
        credentials: Credentials,
        region: String,
    },
    /// No key: the variable it was looked for in.
    Missing(String),
}

/// The Anthropic API (or a compatible endpoint, or Claude Platform on AWS).
pub struct AnthropicApiUpstream {
    config: AnthropicApiConfig,
    base_url: String,
    http: reqwest::Client,
    auth: ApiAuth,
    trouble: Trouble,
}

impl AnthropicApiUpstream {
    /// Reads the key (`api_key`, else the `api_key_env` variable through `env`) or, with `aws`,
    /// the AWS credentials ([`Credentials::aws`]). A missing key does not fail construction:
    /// `/health` and each request report it.
    pub async fn new(
        config: AnthropicApiConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let auth = match &config.aws {
            Some(aws) => ApiAuth::Aws {
                credentials: Credentials::aws(&aws.region, aws.profile.as_deref(), env).await,
                region: aws.region.clone(),
            },
            None => {
                let var = config.api_key_env().to_owned();
                match config
                    .api_key
                    .clone()
                    .or_else(|| env(&var))
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                {
                    Some(key) => ApiAuth::Key(key),
                    None => ApiAuth::Missing(var),
                }
            }
        };
        Ok(Self {
            base_url: config.base_url(),
            http: build_http(&HttpSettings::default())?,
            auth,
            config,
            trouble: Trouble::default(),
        })
    }

    fn model(&self, client: &str) -> Option<ResolvedModel> {
        let trimmed = client.trim();
        let (base, one_m) = match trimmed.strip_suffix("[1m]") {
            Some(b) => (b.trim(), true),
            None => (trimmed, false),
        };
        base.starts_with("claude-").then(|| ResolvedModel {
            client: client.to_owned(),
            upstream: base.to_owned(),
            context_window: if one_m { 1_000_000 } else { 200_000 },
            max_output_tokens: if base.contains("opus") {
                128_000
            } else {
                64_000
            },
        })
    }

    async fn send_canonical(&self, call: Call) -> Result<EventStream, Error> {
        let mut body = encode_request(&call.request, &call.model.upstream);
        body["stream"] = Value::Bool(true);
        let mut headers = Vec::new();
        if call.model.client.ends_with("[1m]") {
            headers.push((
                HeaderName::from_static("anthropic-beta"),
                HeaderValue::from_static(CONTEXT_1M_BETA),
            ));
        }
        let raw = self.stream(json_bytes(&body)?, headers).await?;
        let decoder = EventDecoder::new(call.message_id, call.model.client);
        Ok(canonical_stream(raw, decoder))
    }

    /// The client's pass-through headers (betas joined into one), with `context-1m` for `[1m]`.
    fn passthrough(&self, call: &MessagesCall) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        let mut out = Vec::new();
        let mut betas: Vec<&str> = call.header_values("anthropic-beta").collect();
        if call.model.client.ends_with("[1m]") && !betas.contains(&CONTEXT_1M_BETA) {
            betas.push(CONTEXT_1M_BETA);
        }
        if !betas.is_empty() {
            out.push((
                HeaderName::from_static("anthropic-beta"),
                header_value(&betas.join(","))?,
            ));
        }
        for name in ["anthropic-version", "anthropic-workspace-id"] {
            if let Some((_, v)) = call.headers.iter().find(|(n, _)| n == name) {
                out.push((HeaderName::from_static(name), header_value(v)?));
            }
        }
        Ok(out)
    }

    async fn send_lossless(&self, call: MessagesCall) -> Result<MessagesReply, Error> {
        let headers = self.passthrough(&call)?;
        let mut body = call.body;
        body.insert("model".into(), call.model.upstream.into());
        if call.stream {
            body.insert("stream".into(), Value::Bool(true));
            return Ok(MessagesReply::Stream(
                self.stream(json_bytes(&body)?, headers).await?,
            ));
        }
        let response = self
            .post("/v1/messages", json_bytes(&body)?, headers)
            .await?;
        let bytes = response.bytes().await.map_err(|e| self.network_error(&e))?;
        Ok(MessagesReply::Json(bytes))
    }

    async fn count_lossless(&self, call: MessagesCall) -> Result<u32, Error> {
        let headers = self.passthrough(&call)?;
        let mut body: Map<String, Value> = call.body;
        body.retain(|k, _| !NOT_COUNTED.contains(&k.as_str()));
        body.insert("model".into(), call.model.upstream.into());
        let response = self
            .post("/v1/messages/count_tokens", json_bytes(&body)?, headers)
            .await?;
        let bytes = response.bytes().await.map_err(|e| self.network_error(&e))?;
        #[derive(serde::Deserialize)]
        struct Count {
            input_tokens: u32,
        }
        serde_json::from_slice::<Count>(&bytes)
            .map(|c| c.input_tokens)
            .map_err(|e| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!(
                        "{}'s count_tokens answer has no input_tokens: {e}",
                        self.name()
                    ),
                )
            })
    }

    fn note(&self, error: Option<&Error>) {
        self.trouble.note(error, |_| false);
    }
}

impl Upstream for AnthropicApiUpstream {
    fn id(&self) -> &str {
        &self.config.name
    }

    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Anthropic
    }

    /// Claude model names, `[1m]` ones with the 1M-context beta; anything else is not served.
    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a> {
        Box::pin(std::future::ready(self.model(model)))
    }

    fn send(&self, call: Call) -> SendFuture<'_> {
        Box::pin(self.send_canonical(call))
    }

    /// No static list: the API's own `GET /v1/models` is the truth, and every Claude name is
    /// resolved.
    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }

    fn context_window(&self, model: &str) -> u32 {
        self.model(model).map_or(200_000, |m| m.context_window)
    }

    fn status(&self) -> UpstreamStatus {
        let trouble = self.trouble.get();
        let (state, reason) = match (&self.auth, trouble) {
            (_, Some((state, reason))) => (state, Some(reason)),
            (ApiAuth::Missing(var), None) => (
                UpstreamState::NeedsCredentials,
                Some(format!("{} has no API key: set {var}", self.name())),
            ),
            _ => (UpstreamState::Ready, None),
        };
        let credentials = match &self.auth {
            ApiAuth::Key(_) => "API key".to_owned(),
            ApiAuth::Aws { credentials, .. } => credentials.describe(),
            ApiAuth::Missing(var) => format!("missing ({var})"),
        };
        UpstreamStatus {
            id: self.config.name.clone(),
            kind: UpstreamKind::Anthropic,
            state,
            reason,
            cooldown_until: None,
            detail: serde_json::json!({
                "base_url": self.base_url,
                "credentials": credentials,
                "workspace_id": self.config.workspace_id,
            }),
        }
    }

    fn messages(&self) -> Option<&dyn MessagesUpstream> {
        Some(self)
    }
}

impl MessagesUpstream for AnthropicApiUpstream {
    fn send_messages(&self, call: MessagesCall) -> MessagesFuture<'_> {
        Box::pin(self.send_lossless(call))
    }

    fn count_messages_tokens(&self, call: MessagesCall) -> CountFuture<'_> {
        Box::pin(self.count_lossless(call))
    }
}
