//! The seam between the gateway and an upstream provider.

use std::future::Future;
use std::pin::Pin;

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

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<EventStream, Error>> + Send + 'a>>;
pub type ModelsFuture<'a> = Pin<Box<dyn Future<Output = Vec<ModelInfo>> + Send + 'a>>;

/// An upstream provider. `send` resolves once the upstream has accepted the request and the
/// first event is due; errors before that point are returned here (and may be retried or failed
/// over by the caller), errors after it travel inside the stream.
pub trait Upstream: Send + Sync {
    fn send(&self, request: Request) -> SendFuture<'_>;

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

    /// Health of this upstream for `/health` and `conduit status` (credentials, last error).
    fn status(&self) -> UpstreamStatus {
        UpstreamStatus {
            healthy: true,
            detail: serde_json::Value::Null,
        }
    }
}

/// What an upstream reports about itself. `detail` never contains secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamStatus {
    pub healthy: bool,
    pub detail: serde_json::Value,
}
