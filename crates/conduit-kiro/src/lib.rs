//! The Kiro upstream (Amazon Q Developer / CodeWhisperer `generateAssistantResponse`).
//!
//! Pure parts: [`wire`] (serde types named as in the service), [`models`] (client model names to
//! Kiro model ids), [`convert`] (canonical request → Kiro request, with every rule the service
//! enforces), [`reasoning`] (the effort a model's schema admits, placeholder signatures),
//! [`eventstream`] (AWS event-stream frames → Kiro events) and [`assemble`] (Kiro events →
//! canonical events, including `<thinking>` parsing, native reasoning, tool-call assembly and
//! [`textcalls`], tool calls the model wrote as text).
//! IO parts: [`auth`] (credentials, refresh), [`client`] (HTTP, retries, first-token timeout),
//! [`accounts`] (several accounts: scheduling, failover, usage) and [`upstream`] (the
//! [`conduit_core::Upstream`] implementation).

pub mod accounts;
pub mod assemble;
pub mod auth;
pub mod catalog;
pub mod client;
pub mod config;
pub mod convert;
pub mod count;
pub mod eventstream;
pub mod models;
pub mod reasoning;
pub mod textcalls;
pub mod thinking;
pub mod upstream;
pub mod wire;
