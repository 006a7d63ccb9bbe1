//! The Responses dialect (`POST /v1/responses`, what Codex CLI speaks): wire types, request
//! decoding, the response object and its SSE lifecycle events, and a bounded store for
//! `previous_response_id`.
//!
//! Decisions:
//! - Only `function` tools are served. Other tool types (`web_search`, `namespace`,
//!   `local_shell`, `custom`, `file_search`, `mcp`, ...) are dropped, never fatal: the upstream
//!   cannot run them, and Codex declares them on every request. A `tool_choice` that forces a
//!   dropped tool falls back to `auto`.
//! - `reasoning` input items are ignored: their text is a summary or encrypted for another
//!   service, and the upstream drops earlier reasoning from history anyway. `web_search_call`
//!   items are ignored too (self-contained, server side).
//! - `reasoning.effort` becomes adaptive thinking with that effort, as in the Chat dialect.
//! - Thinking is streamed as a reasoning item with `response.reasoning_summary_text.delta`
//!   events (what Codex and OpenAI UIs show by default); the item carries `summary` text only,
//!   never `encrypted_content`, even when `include` asks for it.
//! - `instructions` become system text; they are not carried over by `previous_response_id`
//!   (as in OpenAI's API), while `system`/`developer` input messages are.
//! - A response cut by the output limit ends with `response.completed` whose status is
//!   `incomplete` (`incomplete_details.reason: max_output_tokens`), not OpenAI's
//!   `response.incomplete` event: Codex treats a stream without `response.completed` as failed.
//! - Errors mid-stream end the stream with `response.failed` carrying `error {code, message}`;
//!   Codex recognizes `context_length_exceeded` and retries the rest.
//! - `background: true` and `conversation` are refused (no background jobs, no server-side
//!   conversations); `text.format` JSON modes become a system instruction (best effort).

mod decode;
mod encode;
mod sse;
pub mod store;
pub mod wire;

use conduit_core::{Error, Request};

pub use encode::response_body;
pub use sse::ResponsesSseEncoder;
pub use store::{Conversation, ResponseStore, StoreLimits};

/// What the encoders need from the request: identity of the response, what to echo in the
/// response object, and what to store when it completes.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `resp_...`, generated at decode time.
    pub response_id: String,
    /// Seconds since the epoch, at decode time.
    pub created_at: u64,
    /// The model name as the client sent it.
    pub model: String,
    /// `store` (default true): keep the conversation for a later `previous_response_id`.
    pub store: bool,
    pub previous_response_id: Option<String>,
    /// The whole input conversation (stored history + this request's input); the output is
    /// appended to it when it is stored.
    pub conversation: Conversation,
    /// Request fields echoed in the response object.
    pub echo: Echo,
}

/// Request fields the response object repeats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Echo {
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub parallel_tool_calls: bool,
    pub reasoning_effort: Option<String>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// `tool_choice` as sent (`"auto"` if absent).
    pub tool_choice: serde_json::Value,
    /// The function tools that were kept.
    pub tools: Vec<wire::ToolEcho>,
    pub metadata: serde_json::Value,
}

/// Decode a `POST /v1/responses` body. With `previous_response_id`, the stored conversation is
/// prepended; an unknown or expired id is a 400 ("previous response not found").
pub fn decode_request(body: &[u8], store: &ResponseStore) -> Result<(Request, Context), Error> {
    decode::request(crate::common::parse(body, "a Responses request")?, store)
}
