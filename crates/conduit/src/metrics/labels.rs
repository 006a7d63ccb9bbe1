//! Label values kept bounded: free text from requests (a model name, an upstream) becomes a
//! label only when it looks like an identifier.

use conduit_core::ErrorKind;

/// The value of a label whose real value is not kept.
pub const OTHER: &str = "other";
/// The value of a label that was not known (no upstream chosen yet, no model named).
pub const NONE: &str = "none";

/// A label value for free text: at most 64 bytes of `[A-Za-z0-9._:/-]` pass unchanged; empty
/// (or `-`, the access log's "none") is [`NONE`]; anything else is [`OTHER`].
pub fn bounded(v: &str) -> &str {
    if v.is_empty() || v == "-" {
        NONE
    } else if v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
    {
        v
    } else {
        OTHER
    }
}

/// An HTTP status as a label, formatted without allocating (`None` outside 100..=999: the
/// caller uses [`OTHER`]).
pub struct Status([u8; 3]);

impl Status {
    pub fn new(status: u16) -> Option<Self> {
        if !(100..=999).contains(&status) {
            return None;
        }
        // Each digit is < 10, so the casts cannot truncate.
        let digit = |n: u16| b'0' + (n % 10) as u8;
        Some(Self([
            digit(status / 100),
            digit(status / 10),
            digit(status),
        ]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or(OTHER)
    }
}

/// The `kind` label of `conduit_upstream_errors_total`: the error kind in snake_case.
pub fn error_kind(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request",
        ErrorKind::ContextOverflow { .. } => "context_overflow",
        ErrorKind::Authentication => "authentication",
        ErrorKind::PermissionDenied => "permission_denied",
        ErrorKind::NotFound => "not_found",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::Credentials => "credentials",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Overloaded => "overloaded",
        ErrorKind::Timeout => "timeout",
        ErrorKind::UpstreamProtocol => "upstream_protocol",
        ErrorKind::IncompleteTurn => "incomplete_turn",
        ErrorKind::Internal => "internal",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::BudgetExceeded => "budget_exceeded",
    }
}
