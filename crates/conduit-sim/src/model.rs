//! Serde types shared by the library API and the JSON control API: accounts, rules, log entries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an account logged in; decides which refresh endpoint accepts its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Kiro desktop (Google/GitHub): refreshed at `POST /refreshToken`.
    #[default]
    Social,
    /// IAM Identity Center: refreshed at `POST /token` (grant `refresh_token`).
    Idc,
    /// AWS Builder ID: refreshed at `POST /token` like `idc`.
    BuilderId,
    /// An IdC account with an Enterprise profile: refreshed at `POST /token` like `idc`.
    Enterprise,
    /// Microsoft Entra ID: refreshed at the IdP (`POST /{tenant}/oauth2/v2.0/token`); every
    /// service call must carry `tokentype: EXTERNAL_IDP`.
    ExternalIdp,
}

impl AccountKind {
    /// Whether the refresh token is an AWS SSO OIDC one (`POST /token`).
    pub fn uses_oidc(self) -> bool {
        matches!(
            self,
            AccountKind::Idc | AccountKind::BuilderId | AccountKind::Enterprise
        )
    }

    /// Whether chat must carry an ARN from the account's own profiles (not a shared placeholder).
    pub fn needs_own_profile(self) -> bool {
        matches!(
            self,
            AccountKind::Idc | AccountKind::Enterprise | AccountKind::ExternalIdp
        )
    }
}

/// A CodeWhisperer profile as returned by ListAvailableProfiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub arn: String,
    #[serde(default = "default_profile_name")]
    pub profile_name: String,
}

fn default_profile_name() -> String {
    "default".to_owned()
}

impl Profile {
    pub fn new(arn: impl Into<String>) -> Self {
        Profile {
            arn: arn.into(),
            profile_name: default_profile_name(),
        }
    }
}

/// An account registered with the sim (`POST /_sim/accounts` or [`crate::SimHandle::add_account`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub access_token: String,
    pub refresh_token: String,
    /// Lifetime of the access token (and of tokens issued by refreshes), in seconds.
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
    /// The account's main profile ARN (returned by the desktop refresh, listed first).
    #[serde(default)]
    pub profile_arn: Option<String>,
    /// Further profiles listed by ListAvailableProfiles.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub kind: AccountKind,
    /// For OIDC kinds: the registered client the refresh token is bound to.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Every chat request answers 402 MONTHLY_REQUEST_COUNT.
    #[serde(default)]
    pub quota_exhausted: bool,
    /// Every chat request answers 402 OVERAGE_REQUEST_LIMIT_EXCEEDED.
    #[serde(default)]
    pub overage_exhausted: bool,
    /// Every service call but getUsageLimits answers the 403 suspension (spec §9.6).
    #[serde(default)]
    pub suspended: bool,
    /// Every chat request answers the 429 "suspicious activity" risk-control limit.
    #[serde(default)]
    pub risk_limited: bool,
    /// For `external_idp`: the Entra tenant whose token endpoint refreshes it (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `subscriptionInfo.subscriptionTitle` in getUsageLimits.
    #[serde(default)]
    pub subscription_title: Option<String>,
    /// `usageLimit` in getUsageLimits (default 50).
    #[serde(default)]
    pub usage_limit: Option<u64>,
}

fn default_expires_in() -> u64 {
    3600
}

impl Account {
    /// A social account with the given tokens, one hour of validity and no profile.
    pub fn new(access_token: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Account {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            expires_in: default_expires_in(),
            profile_arn: None,
            profiles: Vec::new(),
            kind: AccountKind::Social,
            client_id: None,
            client_secret: None,
            quota_exhausted: false,
            overage_exhausted: false,
            suspended: false,
            risk_limited: false,
            tenant: None,
            subscription_title: None,
            usage_limit: None,
        }
    }

    pub fn with_profile_arn(mut self, arn: impl Into<String>) -> Self {
        self.profile_arn = Some(arn.into());
        self
    }

    pub fn with_kind(mut self, kind: AccountKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = Some(secret.into());
        self
    }

    pub fn with_expires_in(mut self, secs: u64) -> Self {
        self.expires_in = secs;
        self
    }

    pub fn with_profiles(mut self, profiles: Vec<Profile>) -> Self {
        self.profiles = profiles;
        self
    }

    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    pub fn with_quota_exhausted(mut self, exhausted: bool) -> Self {
        self.quota_exhausted = exhausted;
        self
    }

    /// All profiles of the account: `profile_arn` first, then `profiles`, without duplicates.
    pub fn all_profiles(&self) -> Vec<Profile> {
        let mut out: Vec<Profile> = self.profile_arn.iter().map(Profile::new).collect();
        for p in &self.profiles {
            if !out.iter().any(|o| o.arn == p.arn) {
                out.push(p.clone());
            }
        }
        out
    }
}

/// Conditions a chat request must meet for a rule to apply; absent fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// Substring of the current user message content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Whether the current message carries toolResults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_tool_results: Option<bool>,
    /// Substring of any tool result text in the current message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result_contains: Option<String>,
    /// Exact modelId of the current message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Exact bearer token of the request (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// One tool call in a scripted reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseStep {
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
    /// `toolUseId`; a random `tooluse_<22 base62>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Number of non-empty `input` fragments (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragments: Option<usize>,
    /// Upstream truncation: the last fragment and `stop` never come, the stream ends without trailer.
    #[serde(default)]
    pub truncate: bool,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A mid-stream exception frame; ends the stream (no trailer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionStep {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// An arbitrary event frame (e.g. `messageMetadataEvent`, `followupPromptEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub event_type: String,
    pub payload: Value,
}

/// One step of a scripted reply. Serialised as a JSON object with one distinguishing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    Delay {
        delay_ms: u64,
    },
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunk: Option<usize>,
    },
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunk: Option<usize>,
    },
    ToolUse {
        tool_use: ToolUseStep,
    },
    Exception {
        exception: ExceptionStep,
    },
    Cut {
        cut: bool,
    },
    ContextUsage {
        context_usage: f64,
    },
    Metering {
        metering: f64,
    },
    Event {
        event: RawEvent,
    },
    /// Native reasoning: `reasoningContentEvent {"text"}` frames, then (unless `signed: false`)
    /// the sim's signature in at least two `{"signature"}` fragments.
    Reasoning {
        reasoning: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunk: Option<usize>,
    },
    /// One `reasoningContentEvent {"redactedContent": <base64>}` frame.
    RedactedReasoning {
        redacted_reasoning: bool,
    },
}

impl Step {
    pub fn text(text: impl Into<String>) -> Self {
        Step::Text {
            text: text.into(),
            chunk: None,
        }
    }

    pub fn text_chunked(text: impl Into<String>, chunk: usize) -> Self {
        Step::Text {
            text: text.into(),
            chunk: Some(chunk),
        }
    }

    pub fn thinking(text: impl Into<String>, chunk: usize) -> Self {
        Step::Thinking {
            thinking: text.into(),
            chunk: Some(chunk),
        }
    }

    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Step::ToolUse {
            tool_use: ToolUseStep {
                name: name.into(),
                input,
                id: None,
                fragments: None,
                truncate: false,
            },
        }
    }

    /// Signed native reasoning (`reasoningContentEvent`).
    pub fn reasoning(text: impl Into<String>) -> Self {
        Step::Reasoning {
            reasoning: text.into(),
            signed: None,
            chunk: None,
        }
    }

    /// Native reasoning without a signature.
    pub fn reasoning_unsigned(text: impl Into<String>) -> Self {
        Step::Reasoning {
            reasoning: text.into(),
            signed: Some(false),
            chunk: None,
        }
    }

    /// Redacted native reasoning.
    pub fn redacted_reasoning() -> Self {
        Step::RedactedReasoning {
            redacted_reasoning: true,
        }
    }

    pub fn delay_ms(ms: u64) -> Self {
        Step::Delay { delay_ms: ms }
    }

    pub fn cut() -> Self {
        Step::Cut { cut: true }
    }

    pub fn exception(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Step::Exception {
            exception: ExceptionStep {
                kind: kind.into(),
                message: message.into(),
            },
        }
    }
}

/// An HTTP error answer: status, JSON body and the `x-amzn-errortype` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpError {
    pub status: u16,
    pub body: Value,
    /// `x-amzn-errortype`; derived from the status when absent, left off when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `Retry-After` header in seconds, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// A scripted reply for chat requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, rename = "match")]
    pub matcher: Match,
    /// Remove the rule after this many uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default)]
    pub reply: Vec<Step>,
    /// Answer with this HTTP error instead of a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_error: Option<HttpError>,
}

impl Rule {
    /// A rule answering every chat request with these steps.
    pub fn reply(steps: Vec<Step>) -> Self {
        Rule {
            reply: steps,
            ..Rule::default()
        }
    }

    /// A rule answering every chat request with this HTTP error.
    pub fn error(err: HttpError) -> Self {
        Rule {
            http_error: Some(err),
            ..Rule::default()
        }
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub fn when(mut self, matcher: Match) -> Self {
        self.matcher = matcher;
        self
    }

    pub fn when_contains(mut self, needle: impl Into<String>) -> Self {
        self.matcher.contains = Some(needle.into());
        self
    }
}

/// One request received by a service endpoint (control requests under `/_sim` are not logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    /// `x-amz-target` header, if any.
    #[serde(default)]
    pub target: Option<String>,
    /// Lower-case header names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON; a JSON string of the raw text if it is not JSON; null if empty.
    pub body: Value,
    pub status: u16,
    #[serde(default)]
    pub rule: Option<String>,
    /// The `{region}` of a `/region/{region}/…` request (its `path` is logged without the
    /// prefix); null at the root.
    #[serde(default)]
    pub region: Option<String>,
    /// `kiro` (Kiro, OIDC and auth services), `bedrock` or `anthropic`.
    #[serde(default)]
    pub service: Option<String>,
    /// Bedrock and Anthropic calls: exactly the usage the sim reported (`input_tokens`,
    /// `cache_creation_input_tokens`, `cache_read_input_tokens`, `cache_creation` (the writes
    /// by TTL: `ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`), `output_tokens`); null
    /// when the call was not answered with a message.
    #[serde(default)]
    pub usage: Option<Value>,
}

impl LogEntry {
    /// The bearer token of the request, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}
