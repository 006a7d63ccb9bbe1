//! The one error model of the proxy path: what went wrong, whose fault it is, and whether a
//! retry may help. Each dialect renders it in its own wire shape (also mid-stream); it is logged
//! once, at the edge.

use std::fmt;
use std::sync::Arc;

/// What kind of failure this is. Dialects map kinds to their status codes and error types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The client's request is malformed or unsupported.
    InvalidRequest,
    /// The prompt does not fit the model's context window.
    ContextOverflow {
        tokens: u64,
        max: u64,
    },
    /// The client's key to the gateway is missing or wrong.
    Authentication,
    /// The client may not do this (e.g. a refused Host or Origin).
    PermissionDenied,
    NotFound,
    RequestTooLarge,
    /// The gateway has no usable upstream credentials (sign-in needed or refresh failed for good).
    Credentials,
    /// The upstream throttled us and retries did not help.
    RateLimited,
    /// The upstream is overloaded or failing (5xx) and retries did not help.
    Overloaded,
    /// The upstream did not answer in time.
    Timeout,
    /// The upstream answered with something we cannot use: a cut stream, a bad frame, a tool call
    /// whose input never completed.
    UpstreamProtocol,
    /// The upstream ended a turn that follows a tool result with reasoning only: no text, no
    /// tool call. Reported as a normal end it would stop an agent's task early; the stream
    /// yields this before any content, so the upstream layer can send the request once more.
    IncompleteTurn,
    /// A bug or resource problem inside the gateway.
    Internal,
    /// A service the gateway itself depends on (the team store) cannot be reached: refused
    /// rather than served unchecked (503, retryable).
    Unavailable,
    /// A spend limit (budget) of the caller is reached: 429 `billing_error`, not retryable
    /// before the period resets.
    BudgetExceeded,
}

/// Whose fault the error is; decides logging level and whether failover makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Internal,
}

/// Why an upstream call failed, in the terms a caller choosing between upstreams (or between
/// the accounts of one upstream) needs. Classified once, where the upstream's answer is parsed
/// (its typed error name, `reason` or status), never by searching message text. An error with
/// a cause may be failed over; one without (a client mistake, a cut stream) may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailoverCause {
    /// The account's quota (or its overage limit) is used up.
    Quota,
    /// The upstream's risk control limits this account ("suspicious activity"): rest it long.
    RiskControl,
    /// The upstream suspended this account: stop using it until a new sign-in.
    Suspended,
    /// Still throttled (429) after the upstream's own retries.
    Throttled,
    /// Still 5xx after the upstream's own retries.
    ServerError,
    /// No answer in time (connect, first byte).
    Timeout,
    /// The upstream's credentials are missing, dead or refused.
    Credentials,
    /// This upstream does not serve the model (unknown id, no access to it, not ready).
    ModelUnavailable,
}

impl FailoverCause {
    /// A short stable name for logs, `/health` and `conduit status`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverCause::Quota => "quota",
            FailoverCause::RiskControl => "risk_control",
            FailoverCause::Suspended => "suspended",
            FailoverCause::Throttled => "throttled",
            FailoverCause::ServerError => "server_error",
            FailoverCause::Timeout => "timeout",
            FailoverCause::Credentials => "credentials",
            FailoverCause::ModelUnavailable => "model_unavailable",
        }
    }
}

/// An upstream's own error answer, kept so that a client speaking the upstream's dialect gets
/// it unmodified (an Anthropic client behind the Anthropic API upstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawError {
    /// The dialect the body is written in (`"anthropic"`).
    pub dialect: &'static str,
    pub status: u16,
    pub body: bytes::Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub fault: Fault,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// A sentence a person can act on. Never contains secrets.
    pub message: String,
    /// Why an upstream call failed, when another upstream or account may do better.
    pub cause: Option<FailoverCause>,
    /// The upstream's own error answer, for a client of the same dialect.
    pub raw: Option<Arc<RawError>>,
    /// Seconds after which the same request may succeed: sent as `retry-after`.
    pub retry_after: Option<u64>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (fault, retryable) = match kind {
            ErrorKind::InvalidRequest
            | ErrorKind::ContextOverflow { .. }
            | ErrorKind::Authentication
            | ErrorKind::PermissionDenied
            | ErrorKind::NotFound
            | ErrorKind::RequestTooLarge => (Fault::Client, false),
            ErrorKind::Credentials => (Fault::Upstream, false),
            ErrorKind::RateLimited | ErrorKind::Overloaded | ErrorKind::Timeout => {
                (Fault::Upstream, true)
            }
            ErrorKind::UpstreamProtocol | ErrorKind::IncompleteTurn => (Fault::Upstream, true),
            ErrorKind::Internal => (Fault::Internal, false),
            ErrorKind::Unavailable => (Fault::Internal, true),
            ErrorKind::BudgetExceeded => (Fault::Client, false),
        };
        Self {
            kind,
            fault,
            retryable,
            message: message.into(),
            cause: None,
            raw: None,
            retry_after: None,
        }
    }

    /// A limit the gateway itself imposes (a key's requests per minute, login throttling):
    /// the client's doing, to be retried after `secs`.
    pub fn limited(message: impl Into<String>, secs: u64) -> Self {
        let mut e = Self::new(ErrorKind::RateLimited, message);
        e.fault = Fault::Client;
        e.retry_after = Some(secs.max(1));
        e
    }

    /// The same error, to be retried after `secs` (`retry-after`).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The same error, marked as one another upstream or account may not have.
    pub fn with_cause(mut self, cause: FailoverCause) -> Self {
        self.cause = Some(cause);
        self
    }

    /// The same error, carrying the upstream's own answer.
    pub fn with_raw(mut self, raw: RawError) -> Self {
        self.raw = Some(Arc::new(raw));
        self
    }

    /// Whether a router may try the next upstream (or account) after this error.
    pub fn fails_over(&self) -> bool {
        self.cause.is_some()
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The context-overflow error, worded as Anthropic words it so clients compact on it.
    pub fn context_overflow(tokens: u64, max: u64) -> Self {
        Self::new(
            ErrorKind::ContextOverflow { tokens, max },
            format!("prompt is too long: {tokens} tokens > {max} maximum"),
        )
    }

    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
