//! Bedrock's errors → the one [`Error`]: REST errors typed by `x-amzn-ErrorType` (or the body's
//! `__type`) and in-band stream exceptions typed by `:exception-type`. Classified by the
//! exception name; ValidationException messages are read only where Bedrock gives no other
//! signal (a refused beta, a prompt too long, a model id it does not serve, the
//! data-retention opt-in).

use conduit_core::{Error, ErrorKind, FailoverCause};

/// What an error message needs to name: the upstream, and which credential it used.
#[derive(Debug, Clone)]
pub struct ErrorContext<'a> {
    /// The upstream's configured name (`bedrock-us`).
    pub upstream: &'a str,
    /// `AWS credentials` or `Bedrock API key`.
    pub credential: &'a str,
}

/// The exception name in `x-amzn-ErrorType` (`ThrottlingException:http://…` →
/// `ThrottlingException`, `ns#Name` → `Name`) or a stream's `:exception-type` (`throttlingException` →
/// `ThrottlingException`).
pub fn exception_name(raw: &str) -> String {
    let before_uri = raw.split(':').next().unwrap_or("");
    let name = before_uri.rsplit('#').next().unwrap_or("").trim();
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The message of a Bedrock error body (`{"message":…}` or `{"Message":…}`), else the text.
pub fn body_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(m) = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(|m| m.as_str())
    {
        return m.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    text.trim().chars().take(500).collect()
}

/// The type named in a body's `__type`, for answers without `x-amzn-ErrorType`.
pub fn body_type(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("__type")?.as_str().map(str::to_owned)
}

/// Classifies a failed call (`status` 0 for an in-band exception).
pub fn classify(status: u16, exception: &str, message: &str, cx: &ErrorContext<'_>) -> Error {
    use ErrorKind as K;
    use FailoverCause as C;
    let name = exception_name(exception);
    let upstream = cx.upstream;
    let said = if message.is_empty() {
        format!("{name} (HTTP {status})")
    } else {
        message.to_owned()
    };
    let (kind, cause, text) = match name.as_str() {
        "ThrottlingException" | "ModelNotReadyException" | "ServiceQuotaExceededException" => (
            K::RateLimited,
            Some(C::Throttled),
            format!("Bedrock ({upstream}) is throttling requests: {said}"),
        ),
        "InternalServerException"
        | "ServiceUnavailableException"
        | "ModelStreamErrorException"
        | "ModelErrorException" => (
            K::Overloaded,
            Some(C::ServerError),
            format!("Bedrock ({upstream}) failed: {said}"),
        ),
        "ModelTimeoutException" => (
            K::Timeout,
            Some(C::Timeout),
            format!("Bedrock ({upstream}) timed out: {said}"),
        ),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException"
        | "InvalidClientTokenIdException" => (
            K::Credentials,
            Some(C::Credentials),
            format!("Bedrock ({upstream}) refused the {}: {said}", cx.credential),
        ),
        "ResourceNotFoundException" => (
            K::NotFound,
            Some(C::ModelUnavailable),
            format!("Bedrock ({upstream}) does not serve this model: {said}"),
        ),
        "ValidationException" => return validation(message, upstream),
        _ => match status {
            429 => (
                K::RateLimited,
                Some(C::Throttled),
                format!("Bedrock ({upstream}) is throttling requests: {said}"),
            ),
            408 => (
                K::Timeout,
                Some(C::Timeout),
                format!("Bedrock ({upstream}) timed out: {said}"),
            ),
            401 | 403 => (
                K::Credentials,
                Some(C::Credentials),
                format!("Bedrock ({upstream}) refused the {}: {said}", cx.credential),
            ),
            404 => (
                K::NotFound,
                Some(C::ModelUnavailable),
                format!("Bedrock ({upstream}): {said}"),
            ),
            s if s >= 500 || status == 0 => (
                K::Overloaded,
                Some(C::ServerError),
                format!("Bedrock ({upstream}) failed: {said}"),
            ),
            _ => (
                K::InvalidRequest,
                None,
                format!("Bedrock ({upstream}) refused the request: {said}"),
            ),
        },
    };
    let error = Error::new(kind, text);
    match cause {
        Some(c) => error.with_cause(c),
        None => error,
    }
}

/// A ValidationException: the client's request, unless Bedrock says the model is not served
/// here (another upstream may serve it) or the account lacks the data-retention opt-in (not
/// transient: never retried). A prompt too long keeps Anthropic's wording, on which Claude
/// Code compacts.
fn validation(message: &str, upstream: &str) -> Error {
    let lower = message.to_ascii_lowercase();
    if lower.contains("too long") && (lower.contains("input") || lower.contains("prompt")) {
        return Error::invalid_request(format!("prompt is too long: {message}"));
    }
    if lower.contains("data retention") {
        return Error::invalid_request(format!(
            "Bedrock ({upstream}) refused the model until the AWS account opts in to a data-retention \
             mode for it (an account or project setting in the Bedrock console): {message}"
        ))
        .with_cause(FailoverCause::ModelUnavailable);
    }
    if lower.contains("model identifier is invalid")
        || lower.contains("on-demand throughput")
        || lower.contains("doesn't support counting tokens")
    {
        return Error::new(
            ErrorKind::NotFound,
            format!("Bedrock ({upstream}): {message}"),
        )
        .with_cause(FailoverCause::ModelUnavailable);
    }
    // The message as Bedrock wrote it: Claude Code's recovery matches on upstream wording
    // ("invalid beta flag", "Extra inputs are not permitted").
    Error::invalid_request(message.to_owned())
}

/// Whether `e` came from the data-retention refusal (reported on `/health`).
pub fn is_data_retention(e: &Error) -> bool {
    e.message.contains("data-retention")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_to_errors() {
        let cx = ErrorContext {
            upstream: "bedrock-us",
            credential: "AWS credentials",
        };
        // (status, type, message, kind, cause, message contains)
        type Case<'a> = (
            u16,
            &'a str,
            &'a str,
            ErrorKind,
            Option<FailoverCause>,
            &'a str,
        );
        let cases: &[Case] = &[
            (429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "Too many requests, please wait before trying again.", ErrorKind::RateLimited, Some(FailoverCause::Throttled), "Too many requests"),
            (429, "ModelNotReadyException", "not ready", ErrorKind::RateLimited, Some(FailoverCause::Throttled), "not ready"),
            (0, "throttlingException", "slow", ErrorKind::RateLimited, Some(FailoverCause::Throttled), "slow"),
            (503, "ServiceUnavailableException", "down", ErrorKind::Overloaded, Some(FailoverCause::ServerError), "down"),
            (0, "modelStreamErrorException", "x", ErrorKind::Overloaded, Some(FailoverCause::ServerError), "x"),
            (0, "internalServerException", "x", ErrorKind::Overloaded, Some(FailoverCause::ServerError), "x"),
            (408, "ModelTimeoutException", "late", ErrorKind::Timeout, Some(FailoverCause::Timeout), "late"),
            (403, "UnrecognizedClientException", "The security token included in the request is invalid.", ErrorKind::Credentials, Some(FailoverCause::Credentials),
             "Bedrock (bedrock-us) refused the AWS credentials: The security token included in the request is invalid."),
            (403, "InvalidSignatureException", "sig", ErrorKind::Credentials, Some(FailoverCause::Credentials), "refused the AWS credentials"),
            (403, "MissingAuthenticationTokenException", "Missing Authentication Token", ErrorKind::Credentials, Some(FailoverCause::Credentials), "Missing"),
            (403, "ExpiredTokenException", "expired", ErrorKind::Credentials, Some(FailoverCause::Credentials), "expired"),
            (403, "AccessDeniedException", "no access", ErrorKind::Credentials, Some(FailoverCause::Credentials), "no access"),
            (404, "ResourceNotFoundException", "gone", ErrorKind::NotFound, Some(FailoverCause::ModelUnavailable), "gone"),
            (400, "ValidationException", "invalid beta flag", ErrorKind::InvalidRequest, None, "invalid beta flag"),
            (400, "ValidationException", "Input is too long for requested model.", ErrorKind::InvalidRequest, None, "prompt is too long: Input is too long"),
            (400, "ValidationException", "The provided model identifier is invalid.", ErrorKind::NotFound, Some(FailoverCause::ModelUnavailable), "identifier"),
            (400, "ValidationException", "data retention mode 'default' is not available for this model", ErrorKind::InvalidRequest, Some(FailoverCause::ModelUnavailable), "data-retention"),
            (500, "", "<html>", ErrorKind::Overloaded, Some(FailoverCause::ServerError), "failed"),
            (429, "", "", ErrorKind::RateLimited, Some(FailoverCause::Throttled), "HTTP 429"),
            (400, "SomethingNew", "huh", ErrorKind::InvalidRequest, None, "huh"),
        ];
        for (status, ty, msg, kind, cause, contains) in cases {
            let e = classify(*status, ty, msg, &cx);
            assert_eq!((&e.kind, e.cause), (kind, *cause), "{ty} {msg}");
            assert!(
                e.message.contains(contains),
                "{} lacks {contains}",
                e.message
            );
        }
        let retention = classify(
            400,
            "ValidationException",
            "data retention mode 'default' is not available for this model",
            &cx,
        );
        assert!(is_data_retention(&retention) && !retention.retryable);
        let key = ErrorContext {
            upstream: "b",
            credential: "Bedrock API key",
        };
        assert!(
            classify(403, "AccessDeniedException", "Authentication failed", &key)
                .message
                .contains("refused the Bedrock API key")
        );
    }

    #[test]
    fn names_and_bodies() {
        assert_eq!(
            exception_name("ValidationException:http://x/"),
            "ValidationException"
        );
        assert_eq!(
            exception_name("com.amazon#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(
            exception_name("serviceUnavailableException"),
            "ServiceUnavailableException"
        );
        assert_eq!(body_message(br#"{"message":"m"}"#), "m");
        assert_eq!(body_message(br#"{"Message":"M"}"#), "M");
        assert_eq!(body_message(b" plain "), "plain");
        assert_eq!(
            body_type(br#"{"__type":"x#ThrottlingException"}"#).as_deref(),
            Some("x#ThrottlingException")
        );
    }
}
