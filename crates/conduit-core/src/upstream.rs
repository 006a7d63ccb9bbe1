//! The seam between the gateway and an upstream provider: the [`Upstream`] trait, the [`Call`]
//! the gateway's prepare phase builds for it, the typed [`UpstreamStatus`], and the Messages
//! lane ([`MessagesUpstream`]) through which an upstream that speaks Anthropic Messages itself
//! (Bedrock InvokeModel, the Anthropic API) carries an Anthropic client's request losslessly.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use serde::Serialize;

use crate::{Error, EventStream, Request};

/// A model an upstream can serve, as listed by `/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The client-facing id (e.g. `claude-sonnet-4-5`).
    pub id: String,
    pub display_name: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
}

/// The model an upstream serves a client's model name with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedModel {
    /// The name the client sent (`claude-opus-4-7`, `claude-opus-4-7[1m]`).
    pub client: String,
    /// The upstream's own id (`claude-opus-4.7`, `us.anthropic.claude-opus-4-7`, an ARN).
    pub upstream: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
}

/// One request as the gateway's prepare phase hands it to an upstream: the model resolved by
/// that upstream, the message id minted once (the same on a failover, so a client never sees
/// two ids for one turn).
#[derive(Debug, Clone)]
pub struct Call {
    pub request: Request,
    pub model: ResolvedModel,
    /// `msg_…`, used for every event the upstream's answer becomes.
    pub message_id: String,
}

impl Call {
    /// The gateway's estimate of the prompt's input tokens (errs high), for an upstream that
    /// has no count of its own. Counted on demand: Kiro counts its own encoded body and the
    /// Messages lanes report the upstream's usage, so no request pays for an estimate that no
    /// one reads.
    pub fn input_tokens_estimate(&self) -> u32 {
        crate::tokens::count_request(&self.request)
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<EventStream, Error>> + Send + 'a>>;
pub type ModelsFuture<'a> = Pin<Box<dyn Future<Output = Vec<ModelInfo>> + Send + 'a>>;
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Option<ResolvedModel>> + Send + 'a>>;

/// Which product an upstream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    Kiro,
    Bedrock,
    Anthropic,
    /// A scripted stand-in (tests).
    Fake,
}

impl UpstreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Kiro => "kiro",
            UpstreamKind::Bedrock => "bedrock",
            UpstreamKind::Anthropic => "anthropic",
            UpstreamKind::Fake => "fake",
        }
    }
}

/// An upstream provider. `send` resolves once the upstream has accepted the request and the
/// first event is due; errors before that point are returned here (a router may fail over on
/// those whose [`Error::cause`] is set), errors after it travel inside the stream.
pub trait Upstream: Send + Sync {
    /// The configured name (`"kiro"`, `"bedrock-us"`).
    fn id(&self) -> &str;

    fn kind(&self) -> UpstreamKind;

    /// The model this upstream would serve `model` with, or `None` when it serves no such
    /// model (a router then skips it). May refresh a live catalogue first.
    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a>;

    fn send(&self, call: Call) -> SendFuture<'_>;

    /// The models this upstream offers to clients, as last known (never waits on the network).
    fn models(&self) -> Vec<ModelInfo>;

    /// The models this upstream offers, refreshed first if the upstream keeps a live catalogue
    /// whose answer is older than its TTL (`GET /v1/models` uses this).
    fn list_models(&self) -> ModelsFuture<'_> {
        let models = self.models();
        Box::pin(std::future::ready(models))
    }

    /// The context window (input tokens) of the model the client named.
    fn context_window(&self, model: &str) -> u32;

    /// Input tokens of `request` as this upstream will see it (after its own conversion:
    /// system prompt placement, tool documentation, placeholders), for `count_tokens`.
    fn count_tokens(&self, request: &Request) -> u32 {
        crate::tokens::count_request(request)
    }

    /// Health of this upstream for `/health` and `conduit status`.
    fn status(&self) -> UpstreamStatus;

    /// The Messages lane, when this upstream speaks Anthropic Messages itself.
    fn messages(&self) -> Option<&dyn MessagesUpstream> {
        None
    }
}

/// Whether an upstream can take requests now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    /// Credentials present; the last call (if any) succeeded.
    Ready,
    /// Resting after a failover cause until `cooldown_until`.
    CoolingDown,
    /// No usable credentials: a sign-in or credential fix is needed.
    NeedsCredentials,
    /// Calls fail for another reason (the last error is in `reason`).
    Failing,
}

/// What an upstream reports about itself. Never contains secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamStatus {
    pub id: String,
    pub kind: UpstreamKind,
    pub state: UpstreamState,
    /// Why it is not ready, in a sentence a person can act on.
    pub reason: Option<String>,
    /// Unix seconds until which a router skips it.
    pub cooldown_until: Option<u64>,
    /// What is particular to this kind (Kiro: its accounts; Bedrock: region, credential source).
    pub detail: serde_json::Value,
}

impl UpstreamStatus {
    pub fn healthy(&self) -> bool {
        self.state == UpstreamState::Ready
    }
}

/// An Anthropic client's request as it came, for an upstream that speaks Messages itself.
#[derive(Debug, Clone)]
pub struct MessagesCall {
    /// The client's JSON body, untouched (its `model` is the client's name).
    pub body: serde_json::Map<String, serde_json::Value>,
    /// The client's headers that may pass through (lower-case names): `anthropic-beta`,
    /// `anthropic-version`, `anthropic-workspace-id`.
    pub headers: Vec<(String, String)>,
    pub model: ResolvedModel,
    pub stream: bool,
}

impl MessagesCall {
    /// The values of a pass-through header, comma-separated lists split (for `anthropic-beta`).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// One Anthropic SSE event as the upstream produced it: `event: {name}` / `data: {data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    pub name: String,
    /// One JSON object.
    pub data: Bytes,
}

pub type RawEventStream = Pin<Box<dyn Stream<Item = Result<RawEvent, Error>> + Send>>;

/// What the Messages lane answers: a stream of Anthropic events, or a whole Messages JSON body.
pub enum MessagesReply {
    Stream(RawEventStream),
    Json(Bytes),
}

pub type MessagesFuture<'a> =
    Pin<Box<dyn Future<Output = Result<MessagesReply, Error>> + Send + 'a>>;
pub type CountFuture<'a> = Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'a>>;

/// The lossless lane: an upstream that speaks Anthropic Messages forwards an Anthropic
/// client's body (after its own rules: Bedrock's allowed fields and betas) and hands back the
/// upstream's events as they came. Errors before the first event are returned (and may fail
/// over, as in [`Upstream::send`]); later ones travel inside the stream.
pub trait MessagesUpstream: Send + Sync {
    fn send_messages(&self, call: MessagesCall) -> MessagesFuture<'_>;

    /// The upstream's exact input-token count for the body (`count_tokens`).
    fn count_messages_tokens(&self, call: MessagesCall) -> CountFuture<'_>;
}
