//! The one error model of the proxy path: what went wrong, whose fault it is, and whether a
//! retry may help. Each dialect renders it in its own wire shape (also mid-stream); it is logged
//! once, at the edge.

use std::fmt;

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
}

/// Whose fault the error is; decides logging level and whether failover makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub fault: Fault,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// A sentence a person can act on. Never contains secrets.
    pub message: String,
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
        };
        Self {
            kind,
            fault,
            retryable,
            message: message.into(),
        }
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
