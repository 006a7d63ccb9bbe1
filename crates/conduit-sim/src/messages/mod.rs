//! The Anthropic Messages dialect shared by the Bedrock runtime and the Anthropic API: the rule
//! view of a request, thinking-signature checks, prompt-cache accounting, reply planning into
//! Messages events, faults and the per-call log details.

pub(crate) mod cache;
pub mod faults;
pub(crate) mod fold;
pub(crate) mod reply;
pub(crate) mod view;

use serde_json::Value;

/// Response extension read by the request log: the service, the logged path (when it differs
/// from the received one) and the usage the sim reported.
#[derive(Debug, Clone)]
pub(crate) struct LogExtra {
    pub service: &'static str,
    pub path: Option<String>,
    pub usage: Option<Value>,
}

pub(crate) mod answer;
