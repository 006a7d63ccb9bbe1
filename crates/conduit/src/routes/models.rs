//! `GET /v1/models`, in Anthropic's list shape or OpenAI's, chosen by the request's headers.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use conduit_core::ModelInfo;
use serde_json::json;

use super::turn::json_response;
use crate::state::Upstreams;

/// Which client dialect a request speaks, for routes both dialects share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Anthropic,
    OpenAi,
}

impl Dialect {
    /// OpenAI paths are OpenAI; elsewhere Anthropic clients identify themselves with
    /// `anthropic-version` (every Anthropic SDK and Claude Code send it) or `x-api-key`.
    pub fn of(path: &str, headers: &HeaderMap) -> Self {
        if path.starts_with("/v1/chat/") || path.starts_with("/v1/responses") {
            return Dialect::OpenAi;
        }
        if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
            Dialect::Anthropic
        } else if path == "/v1/models" {
            Dialect::OpenAi
        } else {
            Dialect::Anthropic
        }
    }
}

/// Windows from which a `[1m]` id is listed next to the plain one.
const ONE_MILLION: u32 = 1_000_000;

/// Every upstream's models (the union; the first upstream wins a duplicate id; Kiro's live catalogue, refreshed when older than its TTL), each Claude
/// model whose window really is ≥ 1M also as `{id}[1m]`: the suffix is how Claude Code learns
/// that it may budget 1M behind a gateway (it assumes 200K otherwise), so it must never be
/// offered for a smaller window.
pub async fn listed(upstreams: &Upstreams) -> Vec<ModelInfo> {
    let mut out = Vec::new();
    for m in upstreams.0.list_models().await {
        let wide =
            (m.context_window >= ONE_MILLION && m.id.starts_with("claude-")).then(|| ModelInfo {
                id: format!("{}[1m]", m.id),
                display_name: format!("{} (1M context)", m.display_name),
                ..m.clone()
            });
        out.push(m);
        out.extend(wide);
    }
    out
}

pub async fn models(State(upstreams): State<Upstreams>, headers: HeaderMap) -> Response {
    let models = listed(&upstreams).await;
    let body = match Dialect::of("/v1/models", &headers) {
        Dialect::Anthropic => conduit_anthropic::models_body(&models),
        Dialect::OpenAi => conduit_openai::models_body(&models),
    };
    json_response(StatusCode::OK, body)
}

/// `GET /v1/models/{id}`: one model, also for names the list does not carry (`claude-opus-5-5`,
/// `sonnet[1m]`): the window is the one requests under that name get. `conduit start` reads
/// the default model's window here for `CLAUDE_CODE_AUTO_COMPACT_WINDOW`.
pub async fn model(
    State(upstreams): State<Upstreams>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let listed = listed(&upstreams).await.into_iter().find(|m| m.id == id);
    let (display_name, context_window, max_output_tokens) = match listed {
        Some(m) => (m.display_name, m.context_window, Some(m.max_output_tokens)),
        None => (id.clone(), context_window(&upstreams, &id), None),
    };
    let body = match Dialect::of("/v1/models", &headers) {
        Dialect::Anthropic => json!({
            "type": "model", "id": id, "display_name": display_name,
            "created_at": "2025-01-01T00:00:00Z",
            "context_window": context_window, "max_output_tokens": max_output_tokens,
        }),
        Dialect::OpenAi => json!({
            "id": id, "object": "model", "created": 1_735_689_600, "owned_by": "conduit",
            "context_window": context_window, "max_output_tokens": max_output_tokens,
        }),
    };
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

/// The window a request under `model` would get: that of the upstream the router tries first.
fn context_window(upstreams: &Upstreams, model: &str) -> u32 {
    upstreams
        .0
        .candidates(model)
        .first()
        .map_or(DEFAULT_WINDOW, |u| u.context_window(model))
}

/// Claude Code's own assumption behind a gateway.
const DEFAULT_WINDOW: u32 = 200_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_by_path_and_headers() {
        let none = HeaderMap::new();
        let mut anthropic = HeaderMap::new();
        anthropic.insert("anthropic-version", "2023-06-01".parse().unwrap());
        let cases = [
            ("/v1/chat/completions", &anthropic, Dialect::OpenAi),
            ("/v1/responses", &none, Dialect::OpenAi),
            ("/v1/models", &none, Dialect::OpenAi),
            ("/v1/models", &anthropic, Dialect::Anthropic),
            ("/v1/messages", &none, Dialect::Anthropic),
        ];
        for (path, headers, want) in cases {
            assert_eq!(Dialect::of(path, headers), want, "{path}");
        }
    }
}
