//! Unit tests for the Kiro HTTP client: error classification by status and body.

use conduit_core::ErrorKind;

use super::*;

const CTX: CallContext = CallContext {
    input_tokens: 1_000,
    context_window: 200_000,
};

fn check(status: u16, body: &str) -> (&'static str, ErrorKind, bool, String) {
    let (verdict, e) = match classify(status, body, CTX) {
        Verdict::Fail(e) => ("fail", e),
        Verdict::Backoff(e) => ("backoff", e),
        Verdict::Refresh(e) => ("refresh", e),
    };
    (verdict, e.kind, e.retryable, e.message)
}

#[test]
fn errors_are_classified_by_status_and_body() {
    use ErrorKind::*;
    let overflow = ContextOverflow {
        tokens: 200_001,
        max: 200_000,
    };
    let cases: &[(u16, &str, &str, ErrorKind, &str)] = &[
        (
            400,
            r#"{"message":"Input is too long.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}"#,
            "fail",
            overflow.clone(),
            "prompt is too long",
        ),
        (
            400,
            r#"{"message":"Something","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}"#,
            "fail",
            overflow,
            "prompt is too long",
        ),
        (
            400,
            r#"{"message":"Improperly formed request.","reason":null}"#,
            "fail",
            InvalidRequest,
            "Improperly formed request.",
        ),
        (
            400,
            r#"{"__type":"ThrottlingException","message":"Maximum Request reached for this month.","reason":"MONTHLY_REQUEST_COUNT"}"#,
            "fail",
            RateLimited,
            "monthly",
        ),
        (
            402,
            r#"{"message":"You have reached the limit.","reason":"MONTHLY_REQUEST_COUNT"}"#,
            "fail",
            RateLimited,
            "monthly",
        ),
        (
            402,
            r#"{"error":{"message":"limit","reason":"MONTHLY_REQUEST_COUNT"}}"#,
            "fail",
            RateLimited,
            "monthly",
        ),
        (
            403,
            r#"{"message":"The bearer token included in the request is invalid."}"#,
            "refresh",
            Credentials,
            "bearer token",
        ),
        (
            401,
            r#"{"message":"The security token included in the request is invalid"}"#,
            "refresh",
            Credentials,
            "security token",
        ),
        (
            403,
            r#"{"message":"User is not authorized to make this call."}"#,
            "fail",
            Credentials,
            "PROFILE_ARN",
        ),
        (
            429,
            r#"{"message":"Too many requests, please wait before trying again."}"#,
            "backoff",
            RateLimited,
            "throttling",
        ),
        (
            429,
            r#"{"message":"INSUFFICIENT_MODEL_CAPACITY"}"#,
            "backoff",
            Overloaded,
            "capacity",
        ),
        (
            500,
            r#"{"message":"Encountered unexpectedly high load when processing the request, please try again."}"#,
            "backoff",
            Overloaded,
            "high load",
        ),
        (
            503,
            "<html>bad gateway</html>",
            "backoff",
            Overloaded,
            "HTTP 503",
        ),
        (404, "", "fail", UpstreamProtocol, "HTTP 404"),
    ];
    for (status, body, verdict, kind, needle) in cases {
        let (v, k, _, msg) = check(*status, body);
        assert_eq!((v, &k), (*verdict, kind), "{status} {body}");
        assert!(msg.contains(needle), "{status} {body}: {msg}");
    }
}

#[test]
fn overflow_uses_the_larger_of_estimate_and_window() {
    let body = r#"{"message":"Input is too long.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}"#;
    let ctx = CallContext {
        input_tokens: 250_000,
        context_window: 200_000,
    };
    match classify(400, body, ctx) {
        Verdict::Fail(e) => {
            assert_eq!(
                e.kind,
                ErrorKind::ContextOverflow {
                    tokens: 250_000,
                    max: 200_000
                }
            );
            assert_eq!(
                e.message,
                "prompt is too long: 250000 tokens > 200000 maximum"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn monthly_quota_is_never_retryable() {
    let (_, _, retryable, _) = check(402, r#"{"reason":"MONTHLY_REQUEST_COUNT"}"#);
    assert!(!retryable);
}

#[test]
fn long_upstream_messages_are_shortened() {
    let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5_000));
    let (_, _, _, msg) = check(400, &long);
    assert!(msg.len() < 500, "{}", msg.len());
}
