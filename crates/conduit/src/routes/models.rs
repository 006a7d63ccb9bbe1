//! `GET /v1/models`, in Anthropic's list shape or OpenAI's, chosen by the request's headers.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

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

pub async fn models(State(upstreams): State<Upstreams>, headers: HeaderMap) -> Response {
    let models = upstreams.0.models();
    let body = match Dialect::of("/v1/models", &headers) {
        Dialect::Anthropic => conduit_anthropic::models_body(&models),
        Dialect::OpenAi => conduit_openai::models_body(&models),
    };
    json_response(StatusCode::OK, body)
}

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
