//! The Chat Completions dialect (`POST /v1/chat/completions`): wire types, request decoding,
//! and `chat.completion` / `chat.completion.chunk` encoding.
//!
//! Decisions where the upstream cannot do what the option asks:
//! - `n > 1`, `logprobs: true`, audio output and the deprecated `functions` are refused with a
//!   400 naming the option (the answer would silently lack what the client asked for).
//! - `response_format` `json_object` / `json_schema` become a system instruction (best effort:
//!   the upstream has no constrained decoding).
//! - `reasoning_effort` becomes adaptive thinking with that effort (`minimal` → low, `xhigh`
//!   and `max` kept, `none` → no thinking); the upstream sizes the budget.
//! - image URLs other than base64 `data:` URLs are refused: the upstream cannot fetch them.
//! - everything else unknown (`seed`, `logit_bias`, `parallel_tool_calls`, `store`, ...) is
//!   ignored.

mod decode;
mod encode;
pub mod wire;

use conduit_core::{Error, Request};

pub use encode::{finish_reason, response_body, usage, ChatSseEncoder};

/// Decode a `POST /v1/chat/completions` body. Whether the client wants a usage chunk at the end
/// of a stream is not part of the canonical request: read it with [`include_usage`].
pub fn decode_request(body: &[u8]) -> Result<Request, Error> {
    decode::request(crate::common::parse(body, "a Chat Completions request")?)
}

/// `stream_options.include_usage` of a body (false if absent or the body does not parse).
pub fn include_usage(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        stream_options: Option<wire::StreamOptions>,
    }
    serde_json::from_slice::<Probe>(body)
        .ok()
        .and_then(|p| p.stream_options)
        .and_then(|o| o.include_usage)
        .unwrap_or(false)
}
