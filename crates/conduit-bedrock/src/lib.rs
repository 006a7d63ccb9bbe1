//! Amazon Bedrock as a conduit upstream, through InvokeModel in the Anthropic Messages dialect
//! (thinking signatures, `cache_control` and tool schemas survive unchanged both ways).
//!
//! Phases: resolve the client's model name to a Bedrock id ([`models`]) → build the InvokeModel
//! body ([`body`]; betas filtered by what was learned, [`betas`]) → authorise (API key or SigV4,
//! [`Credentials`], [`client`]) → send, learning a refused beta and retrying once → read the
//! event stream ([`stream`]) → classify failures ([`errors`]). Two lanes: the canonical one
//! ([`conduit_core::Upstream`], via the Anthropic codec) and the lossless Messages lane
//! ([`conduit_core::MessagesUpstream`]) for Anthropic clients. [`count`] is CountTokens.

pub mod betas;
pub mod body;
pub mod client;
pub mod config;
pub mod count;
pub mod errors;
pub mod models;
pub mod stream;
mod upstream;

/// Where requests get their authority (API key or AWS credentials), shared with Claude Platform
/// on AWS: [`conduit_upstream::aws_credentials`].
pub use conduit_upstream::aws_credentials::{Auth, Credentials, SharedCredentials};
pub use config::BedrockConfig;
pub use upstream::BedrockUpstream;
