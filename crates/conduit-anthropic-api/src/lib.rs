//! The Anthropic Messages API as a conduit upstream: api.anthropic.com or any
//! Messages-compatible `base_url` with an organisation key (`x-api-key`), or Claude Platform on
//! AWS (`aws-external-anthropic`, SigV4 and `anthropic-workspace-id`). Anthropic clients go
//! through the lossless lane (their body, headers and betas as sent; the upstream's events and
//! errors back unmodified); other clients through the canonical lane via the Anthropic codec.
//! Token counts are the upstream's own (`/v1/messages/count_tokens`).

pub mod config;
pub mod sse;
mod upstream;

pub use config::{AnthropicApiConfig, AwsPlatform};
pub use upstream::AnthropicApiUpstream;
