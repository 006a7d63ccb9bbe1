//! The error table (HTTP status and body, the same error mid-stream in both dialects) and the
//! model list.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on a broken fixture, as tests do"
)]

use std::fmt::Write as _;
use std::sync::Arc;

use conduit_core::{Error, ErrorKind, ModelInfo};
use conduit_openai::chat::ChatSseEncoder;
use conduit_openai::responses::{self, ResponseStore, ResponsesSseEncoder};
use conduit_openai::{error_body, models_body};
use serde_json::{json, Value};

/// The `response.failed` error object a Responses stream ends with.
fn failed_error(e: &Error) -> Value {
    let store = Arc::new(ResponseStore::default());
    let (_, ctx) = responses::decode_request(br#"{"model":"m","input":"hi"}"#, &store).unwrap();
    let sse = ResponsesSseEncoder::new(ctx, store).error(e);
    let sse = std::str::from_utf8(&sse).unwrap();
    let frame = sse
        .split_terminator("\n\n")
        .find(|f| f.starts_with("event: response.failed\n"))
        .unwrap();
    let data: Value = serde_json::from_str(frame.split_once("\ndata: ").unwrap().1).unwrap();
    assert_eq!(data["response"]["status"], "failed");
    data["response"]["error"].clone()
}

#[test]
fn error_kinds() {
    let errors = [
        Error::invalid_request("messages: field required"),
        Error::context_overflow(210_345, 200_000),
        Error::new(
            ErrorKind::Authentication,
            "invalid API key: check OPENAI_API_KEY",
        ),
        Error::new(
            ErrorKind::PermissionDenied,
            "Origin https://evil.example is not allowed",
        ),
        Error::new(ErrorKind::NotFound, "no route for GET /v1/nope"),
        Error::new(ErrorKind::RequestTooLarge, "request body exceeds 32 MiB"),
        Error::new(
            ErrorKind::Credentials,
            "no Kiro credentials: run `conduit login`",
        ),
        Error::new(
            ErrorKind::RateLimited,
            "Kiro rate limit reached; retry later",
        ),
        Error::new(ErrorKind::Overloaded, "Kiro is overloaded"),
        Error::new(ErrorKind::Timeout, "Kiro did not answer within 300 s"),
        Error::new(ErrorKind::UpstreamProtocol, "the upstream stream was cut"),
        Error::internal("a gateway bug"),
    ];
    let mut table = String::new();
    for e in &errors {
        let (status, body) = error_body(e);
        let body = String::from_utf8(body).unwrap();
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["error"]["message"], e.message.as_str());
        assert!(parsed["error"]["param"].is_null());

        let sse = ChatSseEncoder::new(false).error(e);
        assert_eq!(
            std::str::from_utf8(&sse).unwrap(),
            format!("data: {body}\n\n")
        );

        let failed = failed_error(e);
        assert_eq!(failed["message"], e.message.as_str());
        writeln!(
            table,
            "{:?}\n  {status} {body}\n  response.failed error: {failed}",
            e.kind
        )
        .unwrap();
    }
    insta::assert_snapshot!("error_kinds", table);
}

#[test]
fn context_overflow_is_recognizable() {
    let (status, body) = error_body(&Error::context_overflow(210_345, 200_000));
    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert_eq!(
        failed_error(&Error::context_overflow(1, 0))["code"],
        "context_length_exceeded"
    );
}

#[test]
fn models_list() {
    let models = [
        ModelInfo {
            id: "claude-sonnet-4-5".into(),
            display_name: "Claude Sonnet 4.5".into(),
            context_window: 200_000,
            max_output_tokens: 64_000,
        },
        ModelInfo {
            id: "claude-haiku-4-5".into(),
            display_name: "Claude Haiku 4.5".into(),
            context_window: 200_000,
            max_output_tokens: 8_192,
        },
    ];
    let body: Value = serde_json::from_slice(&models_body(&models)).unwrap();
    insta::assert_json_snapshot!("models", body);
    let empty: Value = serde_json::from_slice(&models_body(&[])).unwrap();
    assert_eq!(empty, json!({"object": "list", "data": []}));
}
