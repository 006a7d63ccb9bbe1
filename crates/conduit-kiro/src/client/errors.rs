//! Kiro's error answers (spec §6.1, §9.6) sorted into classes, each with its own handling.
//!
//! A body is classified on its parsed fields: its `reason` (top level, then `error.reason`)
//! first, then Kiro's codes in its other fields and the documented wordings of its message, and
//! by status only last (never by searching the raw body): the same condition arrives with
//! different statuses (quota as 402 or 400, tool pairing as 400 or 503).

use conduit_core::{Error, ErrorKind, FailoverCause};
use serde_json::Value;

use super::{CallContext, Verdict};
use crate::auth::kind::AccountKind;
use crate::config::{region_of_profile_arn, DEFAULT_REGION};

/// How much of an upstream message is quoted back to people.
const MAX_QUOTED: usize = 300;

/// What a call sent, for wording errors about the profile ARN and the tools.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub profile_arn: Option<&'a str>,
    pub kind: AccountKind,
    /// The API base URL the call went to.
    pub url: &'a str,
    /// Whether that URL follows the ARN's region (default hosts or `{region}` in the override).
    pub url_follows_region: bool,
    /// The JSON body sent.
    pub body: &'a [u8],
}

/// The kind of failure an answer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `MONTHLY_REQUEST_COUNT` or `OVERAGE_REQUEST_LIMIT_EXCEEDED`.
    Quota {
        overage: bool,
    },
    /// 429 "suspicious activity": risk control on this account.
    RiskControl,
    /// 403 "temporarily is suspended".
    Suspended,
    ToolSchemaInvalid,
    ToolResultMismatch,
    ThinkingSignatureInvalid,
    RequestBodyInvalid,
    AdditionalFieldsRefused,
    ContextOverflow,
    InvalidModel,
    ModelTemporarilyUnavailable,
    Capacity,
    ProfileArnRequired,
    NotAuthorized,
    BearerInvalid,
    ImproperlyFormed,
    GatewayTimeout,
    Timeout,
    Throttled,
    ServerError,
    BadRequest,
    Refused,
    Unexpected,
}

/// An error answer's parts.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub message: String,
    pub reason: String,
    pub class: Class,
}

/// Parses and classifies a non-2xx answer.
pub fn parse(status: u16, body: &str) -> Answer {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let field = |key: &str| -> Option<String> {
        let j = json.as_ref()?;
        j.get(key)
            .and_then(Value::as_str)
            .or_else(|| j.get("error")?.get(key)?.as_str())
            .map(str::to_string)
    };
    let message = field("message")
        .or_else(|| field("Message"))
        .unwrap_or_else(|| body.trim().to_string());
    let reason = field("reason").unwrap_or_default();
    let codes = codes(json.as_ref());
    let class = class_of(status, &reason, &message, &codes);
    Answer {
        status,
        message,
        reason,
        class,
    }
}

/// The string fields of an error body (top level and its `error` object: `reason`, `code`,
/// `__type`, ...), where Kiro puts its upper-case codes.
fn codes(json: Option<&Value>) -> Vec<&str> {
    let Some(j) = json else {
        return Vec::new();
    };
    let mut out: Vec<&str> = string_fields(j);
    if let Some(e) = j.get("error") {
        out.extend(string_fields(e));
    }
    out
}

fn string_fields(v: &Value) -> Vec<&str> {
    v.as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_str)
        .collect()
}

/// Classifies by the parsed fields: the `reason`, then Kiro's codes in any field or in the
/// message, then the documented message wordings (Kiro's only signal for risk control and
/// suspension), then the status.
fn class_of(status: u16, reason: &str, message: &str, codes: &[&str]) -> Class {
    let by_reason = match reason {
        "MONTHLY_REQUEST_COUNT" => Some(Class::Quota { overage: false }),
        "OVERAGE_REQUEST_LIMIT_EXCEEDED" => Some(Class::Quota { overage: true }),
        "TOOL_SCHEMA_INVALID" => Some(Class::ToolSchemaInvalid),
        "TOOL_USE_RESULT_MISMATCH" => Some(Class::ToolResultMismatch),
        "THINKING_SIGNATURE_INVALID" => Some(Class::ThinkingSignatureInvalid),
        "REQUEST_BODY_INVALID" => Some(Class::RequestBodyInvalid),
        "CONTENT_LENGTH_EXCEEDS_THRESHOLD" => Some(Class::ContextOverflow),
        "INVALID_MODEL_ID" => Some(Class::InvalidModel),
        "MODEL_TEMPORARILY_UNAVAILABLE" => Some(Class::ModelTemporarilyUnavailable),
        "INSUFFICIENT_MODEL_CAPACITY" => Some(Class::Capacity),
        _ => None,
    };
    if let Some(c) = by_reason {
        return c;
    }
    let code = |c: &str| codes.contains(&c) || message.contains(c);
    let m = message.to_ascii_lowercase();
    let markers: [(bool, Class); 15] = [
        (
            code("OVERAGE_REQUEST_LIMIT_EXCEEDED"),
            Class::Quota { overage: true },
        ),
        (
            code("MONTHLY_REQUEST_COUNT"),
            Class::Quota { overage: false },
        ),
        (m.contains("suspicious activity"), Class::RiskControl),
        (
            m.contains("is suspended") || m.contains("locked your account"),
            Class::Suspended,
        ),
        (
            code("TOOL_SCHEMA_INVALID") || m.contains("input_schema does not support"),
            Class::ToolSchemaInvalid,
        ),
        (
            code("TOOL_USE_RESULT_MISMATCH") || message.contains("Expected toolResult blocks"),
            Class::ToolResultMismatch,
        ),
        (
            code("THINKING_SIGNATURE_INVALID"),
            Class::ThinkingSignatureInvalid,
        ),
        (
            m.contains("additionalmodelrequestfields"),
            Class::AdditionalFieldsRefused,
        ),
        (
            code("MODEL_TEMPORARILY_UNAVAILABLE"),
            Class::ModelTemporarilyUnavailable,
        ),
        (code("INSUFFICIENT_MODEL_CAPACITY"), Class::Capacity),
        (m.contains("input is too long"), Class::ContextOverflow),
        (
            m.contains("profilearn is required"),
            Class::ProfileArnRequired,
        ),
        (
            status == 403 && m.contains("not authorized to make this call"),
            Class::NotAuthorized,
        ),
        (
            (status == 401 || status == 403)
                && (m.contains("bearer token") || m.contains("security token")),
            Class::BearerInvalid,
        ),
        (
            status == 400 && m.contains("improperly formed request"),
            Class::ImproperlyFormed,
        ),
    ];
    if let Some((_, c)) = markers.iter().find(|(hit, _)| *hit) {
        return *c;
    }
    match status {
        400 => Class::BadRequest,
        401 => Class::BearerInvalid,
        402 => Class::Quota { overage: false },
        403 => Class::Refused,
        408 => Class::Timeout,
        429 => Class::Throttled,
        524 => Class::GatewayTimeout,
        500..=599 => Class::ServerError,
        _ => Class::Unexpected,
    }
}

impl Class {
    /// What a caller choosing between accounts or upstreams makes of it: `None` when another
    /// would not do better (the client's mistake, a gateway timeout that must not be resent).
    pub fn cause(self) -> Option<FailoverCause> {
        match self {
            Class::Quota { .. } => Some(FailoverCause::Quota),
            Class::RiskControl => Some(FailoverCause::RiskControl),
            Class::Suspended => Some(FailoverCause::Suspended),
            Class::Throttled => Some(FailoverCause::Throttled),
            Class::ServerError | Class::Capacity | Class::ModelTemporarilyUnavailable => {
                Some(FailoverCause::ServerError)
            }
            Class::ProfileArnRequired
            | Class::NotAuthorized
            | Class::BearerInvalid
            | Class::Refused => Some(FailoverCause::Credentials),
            Class::InvalidModel => Some(FailoverCause::ModelUnavailable),
            Class::Timeout => Some(FailoverCause::Timeout),
            _ => None,
        }
    }
}

/// The verdict on an answer, worded for people; its error carries the answer's
/// [`FailoverCause`] (classified here, once).
pub fn verdict(a: &Answer, ctx: CallContext, sent: Option<&Sent<'_>>) -> Verdict {
    let with_cause = |e: Error| match a.class.cause() {
        Some(cause) => e.with_cause(cause),
        None => e,
    };
    match worded(a, ctx, sent) {
        Verdict::Fail(e) => Verdict::Fail(with_cause(e)),
        Verdict::Backoff(e) => Verdict::Backoff(with_cause(e)),
        Verdict::Refresh(e) => Verdict::Refresh(with_cause(e)),
    }
}

fn worded(a: &Answer, ctx: CallContext, sent: Option<&Sent<'_>>) -> Verdict {
    let quoted = quote(&a.message);
    let status = a.status;
    let client = |text: String| Verdict::Fail(Error::invalid_request(text));
    match a.class {
        Class::Quota { overage } => Verdict::Fail(
            Error::new(
                ErrorKind::RateLimited,
                if overage {
                    "the Kiro overage limit of this account is used up too (OVERAGE_REQUEST_LIMIT_EXCEEDED); wait for the monthly reset or sign in with another account"
                } else {
                    "the Kiro monthly request quota of this account is used up; wait for the monthly reset or sign in with another account"
                },
            )
            .with_retryable(false),
        ),
        Class::RiskControl => Verdict::Fail(Error::new(
            ErrorKind::RateLimited,
            format!("Kiro's risk control has limited this account for now ({quoted}); conduit rests the account and does not retry on it"),
        )),
        Class::Suspended => Verdict::Fail(
            Error::new(
                ErrorKind::Credentials,
                format!("Kiro suspended this account ({quoted}); conduit stops using it. Contact Kiro support, or sign in with another account (`conduit login`)"),
            )
            .with_retryable(false),
        ),
        Class::ToolSchemaInvalid => {
            let tools = sent.map(|s| combinator_tools(s.body)).unwrap_or_default();
            let named = if tools.is_empty() {
                "a tool".to_string()
            } else {
                format!("tool {}", tools.join(", "))
            };
            client(format!("Kiro refused the input schema of {named}: {quoted}. Kiro does not accept oneOf/anyOf/allOf at the top level of a tool's input_schema; rewrite that schema as one object"))
        }
        Class::ToolResultMismatch => client(format!("the tool_use and tool_result blocks of the conversation do not pair up (Kiro: {quoted}); every tool_use needs its tool_result in the next user turn")),
        Class::ThinkingSignatureInvalid => client(format!("a thinking block's signature does not verify (Kiro: {quoted}); send thinking blocks back exactly as received, or drop them")),
        Class::RequestBodyInvalid => client(format!("Kiro rejected the request body ({quoted}); a thinking block in the history is malformed: send it back exactly as received")),
        Class::AdditionalFieldsRefused => client(format!("Kiro refused the reasoning settings for this model ({quoted}); drop the thinking/effort settings or pick a model that supports them")),
        Class::ContextOverflow => {
            let window = u64::from(ctx.context_window);
            let tokens = u64::from(ctx.input_tokens).max(window + 1);
            Verdict::Fail(Error::context_overflow(tokens, window))
        }
        Class::InvalidModel => client(format!("Kiro rejected the model ({quoted}); pick another model (the account's plan may not include this one)")),
        Class::ProfileArnRequired | Class::NotAuthorized => Verdict::Fail(Error::new(
            ErrorKind::Credentials,
            format!("Kiro refused the profile ARN ({quoted}): {}", arn_advice(sent)),
        )),
        Class::ImproperlyFormed => match sent.and_then(region_mismatch) {
            Some(advice) => Verdict::Fail(Error::new(ErrorKind::Credentials, format!("Kiro rejected the request: {quoted} {advice}"))),
            None => client(format!("Kiro rejected the request: {quoted}")),
        },
        Class::BadRequest => client(format!("Kiro rejected the request: {quoted}")),
        Class::BearerInvalid => Verdict::Refresh(Error::new(
            ErrorKind::Credentials,
            format!("Kiro rejected the access token ({quoted})"),
        )),
        Class::Refused => Verdict::Fail(Error::new(
            ErrorKind::Credentials,
            format!("Kiro refused this account ({quoted}); check PROFILE_ARN or run `conduit login`"),
        )),
        Class::Timeout => Verdict::Backoff(Error::new(ErrorKind::Timeout, format!("Kiro timed out ({quoted}); try again"))),
        Class::GatewayTimeout => Verdict::Fail(Error::new(
            ErrorKind::Timeout,
            "a gateway in front of Kiro timed out (HTTP 524); conduit does not resend it, try again",
        )),
        Class::Capacity => Verdict::Backoff(Error::new(
            ErrorKind::Overloaded,
            format!("the model is out of capacity at Kiro ({quoted}); try again later or pick another model"),
        )),
        Class::ModelTemporarilyUnavailable => Verdict::Backoff(Error::new(
            ErrorKind::Overloaded,
            format!("the model is temporarily unavailable at Kiro ({quoted}); try again later or pick another model"),
        )),
        Class::Throttled => Verdict::Backoff(Error::new(
            ErrorKind::RateLimited,
            format!("Kiro is throttling requests ({quoted}); wait a moment and try again"),
        )),
        Class::ServerError => Verdict::Backoff(Error::new(
            ErrorKind::Overloaded,
            format!("Kiro is overloaded or failing (HTTP {status}: {quoted}); try again shortly"),
        )),
        Class::Unexpected => Verdict::Fail(
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("Kiro answered HTTP {status} ({quoted}); check CONDUIT_KIRO_API_URL"),
            )
            .with_retryable(false),
        ),
    }
}

/// Which ARN was sent, what kind of account conduit believes this is, and how to fix it.
fn arn_advice(sent: Option<&Sent<'_>>) -> String {
    let Some(s) = sent else {
        return "set PROFILE_ARN to your profile's ARN, or run `conduit login` again".into();
    };
    let what = match s.profile_arn {
        Some(arn) => format!("conduit sent profile ARN {arn}"),
        None => "conduit sent no profile ARN".to_string(),
    };
    let fix = match s.kind {
        AccountKind::BuilderId => "A Builder ID sends the shared placeholder ARN. If this is really an IAM Identity Center account, set CONDUIT_SSO_START_URL to your start URL and run `conduit login` again, or set PROFILE_ARN to your profile's ARN",
        AccountKind::Idc | AccountKind::ExternalIdp => "Such an account must send its own ARN, which ListAvailableProfiles names (asked at us-east-1 and eu-central-1). Run `conduit login` again to look it up, or set PROFILE_ARN to your profile's ARN (arn:aws:codewhisperer:REGION:ACCOUNT:profile/ID)",
        AccountKind::Social => "A social sign-in sends the ARN Kiro's auth service returned. Run `conduit login --social google|github` again, or set PROFILE_ARN to the ARN the Kiro IDE shows",
    };
    format!("{what} for {}. {fix}", s.kind.describe())
}

/// Advice when the ARN's region may not be the region the call went to.
fn region_mismatch(s: &Sent<'_>) -> Option<String> {
    let arn = s.profile_arn?;
    let region = region_of_profile_arn(arn)?;
    if s.url_follows_region || region == DEFAULT_REGION {
        return None;
    }
    Some(format!(
        "conduit sent profile ARN {arn} ({}) to {}, a fixed CONDUIT_KIRO_API_URL; the API region must be the ARN's ({region}): put {{region}} in CONDUIT_KIRO_API_URL or unset it, or set PROFILE_ARN to an ARN of that region",
        s.kind.describe(),
        s.url
    ))
}

/// The tools of a sent body whose input schema has `oneOf`/`anyOf`/`allOf` at the top level.
fn combinator_tools(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let tools = v
        .pointer("/conversationState/currentMessage/userInputMessage/userInputMessageContext/tools")
        .and_then(Value::as_array);
    tools
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let spec = t.get("toolSpecification")?;
            let schema = spec.pointer("/inputSchema/json")?;
            let bad = ["oneOf", "anyOf", "allOf"]
                .iter()
                .any(|k| schema.get(k).is_some());
            bad.then(|| spec.get("name")?.as_str().map(|n| format!("`{n}`")))
                .flatten()
        })
        .collect()
}

pub(super) fn quote(message: &str) -> String {
    let m = message.trim();
    if m.is_empty() {
        return "no message".to_string();
    }
    match m.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &m[..cut]),
        None => m.to_string(),
    }
}
