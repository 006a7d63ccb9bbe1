//! The Anthropic Messages dialect seen from the other side: conduit as the *client* of an
//! upstream that speaks Messages (the Anthropic API, Bedrock InvokeModel). Canonical
//! [`conduit_core::Request`] → Messages JSON ([`encode_request`]), Messages SSE events →
//! canonical [`conduit_core::Event`]s ([`EventDecoder`]), a `usage` object → canonical usage
//! ([`WireUsage`], [`body_usage`]), and an Anthropic error envelope → the
//! one [`conduit_core::Error`] ([`error_from_body`]). Pure; no IO.

mod errors;
mod events;
mod request;
mod usage;

pub use errors::{error_from_body, error_from_event};
pub use events::{canonical_stream, EventDecoder};
pub use request::{encode_request, DEFAULT_MAX_TOKENS};
pub use usage::{body_usage, WireUsage};

#[cfg(test)]
mod tests;
