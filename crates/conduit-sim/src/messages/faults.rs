//! Injected upstream faults for the Bedrock runtime and the Anthropic API
//! (`SimHandle::add_bedrock_fault`, `POST /_sim/bedrock/faults`).

use serde::{Deserialize, Serialize};

use crate::state::State;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Bedrock 429 ThrottlingException; Anthropic 429 rate_limit_error.
    Throttle,
    /// Bedrock 503 ServiceUnavailableException; Anthropic 529 overloaded_error.
    Unavailable,
    /// Bedrock 403 AccessDeniedException; Anthropic 403 permission_error.
    AccessDenied,
    /// Bedrock 429 ModelNotReadyException; Anthropic 529 overloaded_error.
    ModelNotReady,
    /// The stream starts, then after `after_events` events an exception ends it.
    StreamException,
}

/// Which service a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultService {
    #[default]
    Bedrock,
    Anthropic,
}

/// One injected fault; absent `region`/`model` match any request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BedrockFault {
    #[serde(default)]
    pub service: FaultService,
    /// Only requests to this `/region/{region}` prefix.
    #[serde(default)]
    pub region: Option<String>,
    /// Only model ids containing this substring.
    #[serde(default)]
    pub model: Option<String>,
    pub kind: FaultKind,
    /// For `stream_exception`: the ResponseStream member name (default `throttlingException`).
    #[serde(default)]
    pub exception: Option<String>,
    /// Overrides the default message.
    #[serde(default)]
    pub message: Option<String>,
    /// For `stream_exception`: chunk events sent before the exception (default 2).
    #[serde(default)]
    pub after_events: Option<usize>,
    /// Matching requests it applies to; `None` = until reset.
    #[serde(default)]
    pub times: Option<u32>,
}

impl BedrockFault {
    /// A Bedrock fault of this kind for every request, until reset.
    pub fn new(kind: FaultKind) -> Self {
        BedrockFault {
            service: FaultService::Bedrock,
            region: None,
            model: None,
            kind,
            exception: None,
            message: None,
            after_events: None,
            times: None,
        }
    }

    pub fn anthropic(mut self) -> Self {
        self.service = FaultService::Anthropic;
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub fn exception(mut self, name: impl Into<String>) -> Self {
        self.exception = Some(name.into());
        self
    }

    pub fn after_events(mut self, n: usize) -> Self {
        self.after_events = Some(n);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    fn applies(&self, service: FaultService, region: Option<&str>, models: &[&str]) -> bool {
        self.service == service
            && self.region.as_deref().is_none_or(|r| region == Some(r))
            && self
                .model
                .as_deref()
                .is_none_or(|m| models.iter().any(|id| id.contains(m)))
    }
}

/// A fault and how many more requests it applies to.
#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    pub fault: BedrockFault,
    pub remaining: Option<u32>,
}

impl State {
    pub(crate) fn add_fault(&mut self, fault: BedrockFault) {
        let remaining = fault.times;
        self.faults.push(FaultState { fault, remaining });
    }

    /// The first fault for this request, counting one use of it.
    pub(crate) fn take_fault(
        &mut self,
        service: FaultService,
        region: Option<&str>,
        models: &[&str],
        streaming: bool,
    ) -> Option<BedrockFault> {
        let idx = self.faults.iter().position(|f| {
            f.fault.applies(service, region, models)
                && (streaming || f.fault.kind != FaultKind::StreamException)
        })?;
        let entry = self.faults.get_mut(idx)?;
        let fault = entry.fault.clone();
        if let Some(n) = entry.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.remove(idx);
            }
        }
        Some(fault)
    }
}
