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

#[test]
fn late_2026_errors_are_classified_by_reason_then_markers() {
    use errors::Class::*;
    let cases: &[(u16, &str, errors::Class, Option<FailoverCause>)] = &[
        (
            429,
            r#"{"message":"Due to suspicious activity, we are imposing temporary limits on how frequently your account (d-123) can send a request to Kiro while we investigate.","reason":null}"#,
            RiskControl,
            Some(FailoverCause::RiskControl),
        ),
        (
            403,
            r#"{"message":"Your User ID (u-1) temporarily is suspended. We've locked your account as a security precaution.","reason":null}"#,
            Suspended,
            Some(FailoverCause::Suspended),
        ),
        (
            402,
            r#"{"message":"You have reached the limit for overages.","reason":"OVERAGE_REQUEST_LIMIT_EXCEEDED"}"#,
            Quota { overage: true },
            Some(FailoverCause::Quota),
        ),
        (
            400,
            r#"{"error":{"message":"x","reason":"OVERAGE_REQUEST_LIMIT_EXCEEDED"}}"#,
            Quota { overage: true },
            Some(FailoverCause::Quota),
        ),
        (
            400,
            r#"{"__type":"ValidationException","message":"input_schema does not support oneOf, allOf, or anyOf at the top level","reason":"TOOL_SCHEMA_INVALID"}"#,
            ToolSchemaInvalid,
            None,
        ),
        (
            503,
            r#"{"message":"x","reason":"TOOL_USE_RESULT_MISMATCH"}"#,
            ToolResultMismatch,
            None,
        ),
        (
            503,
            "Expected toolResult blocks at messages.3.content",
            ToolResultMismatch,
            None,
        ),
        (
            500,
            r#"{"message":"Encountered unexpectedly high load when processing the request, please try again.","reason":"MODEL_TEMPORARILY_UNAVAILABLE"}"#,
            ModelTemporarilyUnavailable,
            Some(FailoverCause::ServerError),
        ),
        (524, "", GatewayTimeout, None),
        (
            400,
            r#"{"message":"Invalid `signature` in `thinking` block","reason":"THINKING_SIGNATURE_INVALID"}"#,
            ThinkingSignatureInvalid,
            None,
        ),
        (
            400,
            r#"{"message":"Improperly formed request.","reason":"REQUEST_BODY_INVALID"}"#,
            RequestBodyInvalid,
            None,
        ),
        (
            400,
            r#"{"message":"additionalModelRequestFields is not supported for this model","reason":null}"#,
            AdditionalFieldsRefused,
            None,
        ),
        (
            400,
            r#"{"message":"Invalid additionalModelRequestFields","reason":null}"#,
            AdditionalFieldsRefused,
            None,
        ),
        (
            400,
            r#"{"message":"profileArn is required for this request.","reason":null}"#,
            ProfileArnRequired,
            Some(FailoverCause::Credentials),
        ),
        (
            403,
            r#"{"message":"User is not authorized to make this call.","reason":null}"#,
            NotAuthorized,
            Some(FailoverCause::Credentials),
        ),
        (
            400,
            r#"{"message":"Improperly formed request.","reason":null}"#,
            ImproperlyFormed,
            None,
        ),
        (
            429,
            r#"{"message":"Too many requests, please wait before trying again."}"#,
            Throttled,
            Some(FailoverCause::Throttled),
        ),
    ];
    for (status, body, class, cause) in cases {
        let a = errors::parse(*status, body);
        assert_eq!(
            (a.class, a.class.cause()),
            (*class, *cause),
            "{status} {body}"
        );
    }
}

#[test]
fn client_errors_are_never_retried_and_model_unavailability_is() {
    let fail = [
        (400, r#"{"reason":"TOOL_SCHEMA_INVALID","message":"m"}"#),
        (
            503,
            r#"{"reason":"TOOL_USE_RESULT_MISMATCH","message":"m"}"#,
        ),
        (524, ""),
        (
            429,
            r#"{"message":"Due to suspicious activity, we are imposing temporary limits"}"#,
        ),
        (
            403,
            r#"{"message":"Your User ID (x) temporarily is suspended."}"#,
        ),
    ];
    for (status, body) in fail {
        assert_eq!(check(status, body).0, "fail", "{status} {body}");
    }
    let (v, kind, _, _) = check(
        500,
        r#"{"reason":"MODEL_TEMPORARILY_UNAVAILABLE","message":"m"}"#,
    );
    assert_eq!((v, kind), ("backoff", ErrorKind::Overloaded));
}

#[test]
fn arn_errors_say_what_was_sent_for_which_kind_and_how_to_fix_it() {
    use crate::auth::kind::AccountKind;
    let body = r#"{"message":"profileArn is required for this request.","reason":null}"#;
    let sent = errors::Sent {
        profile_arn: None,
        kind: AccountKind::Idc,
        url: "https://q.us-east-1.amazonaws.com",
        url_follows_region: true,
        body: b"{}",
    };
    let Verdict::Fail(e) = errors::verdict(&errors::parse(400, body), CTX, Some(&sent)) else {
        panic!("not a failure")
    };
    for needle in [
        "sent no profile ARN",
        "IAM Identity Center",
        "PROFILE_ARN",
        "conduit login",
    ] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
    let arn = "arn:aws:codewhisperer:eu-central-1:1:profile/X";
    let sent = errors::Sent {
        profile_arn: Some(arn),
        url: "http://127.0.0.1:9",
        url_follows_region: false,
        ..sent
    };
    let body = r#"{"message":"Improperly formed request.","reason":null}"#;
    let Verdict::Fail(e) = errors::verdict(&errors::parse(400, body), CTX, Some(&sent)) else {
        panic!("not a failure")
    };
    for needle in [arn, "eu-central-1", "{region}", "PROFILE_ARN"] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
}

#[test]
fn a_refused_tool_schema_names_the_tool() {
    let body = br#"{"conversationState":{"currentMessage":{"userInputMessage":{"userInputMessageContext":{"tools":[
        {"toolSpecification":{"name":"fine","inputSchema":{"json":{"type":"object"}}}},
        {"toolSpecification":{"name":"pick_one","inputSchema":{"json":{"anyOf":[{"type":"object"}]}}}}]}}}}}"#;
    let sent = errors::Sent {
        profile_arn: None,
        kind: crate::auth::kind::AccountKind::Social,
        url: "u",
        url_follows_region: true,
        body,
    };
    let answer = errors::parse(
        400,
        r#"{"message":"input_schema does not support oneOf, allOf, or anyOf at the top level","reason":"TOOL_SCHEMA_INVALID"}"#,
    );
    let Verdict::Fail(e) = errors::verdict(&answer, CTX, Some(&sent)) else {
        panic!("not a failure")
    };
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(
        e.message.contains("`pick_one`") && !e.message.contains("`fine`"),
        "{}",
        e.message
    );
}
