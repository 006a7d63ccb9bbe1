//! Signing is deterministic for a fixed time and adds exactly the headers AWS expects.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::time::{Duration, UNIX_EPOCH};

use super::*;

const URL: &str =
    "http://127.0.0.1:9/region/us-east-1/model/us.anthropic.claude-opus-4-7/invoke-with-response-stream";

fn creds(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIACONDUITSIMTEST01".into(),
        secret_access_key: "conduitSimTestSecretKey/0123456789EXAMPLE".into(),
        session_token: token.map(str::to_string),
    }
}

fn signed(token: Option<&str>) -> Vec<(String, String)> {
    // 2026-12-04T18:30:00Z
    let time = UNIX_EPOCH + Duration::from_secs(1_796_409_000);
    let headers = [(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    )];
    sign(
        "POST",
        URL,
        &headers,
        b"{\"max_tokens\":1}",
        &creds(token),
        "us-east-1",
        "bedrock",
        time,
    )
    .unwrap()
    .into_iter()
    .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
    .collect()
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn deterministic_with_a_fixed_time() {
    assert_eq!(signed(None), signed(None));
    assert_eq!(signed(Some("tok")), signed(Some("tok")));
    assert_ne!(
        get(&signed(None), "authorization"),
        get(&signed(Some("tok")), "authorization")
    );
}

#[test]
fn headers_added() {
    let plain = signed(None);
    assert_eq!(get(&plain, "x-amz-date"), Some("20261204T183000Z"));
    assert_eq!(get(&plain, "x-amz-security-token"), None);
    let auth = get(&plain, "authorization").unwrap();
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIACONDUITSIMTEST01/20261204/us-east-1/bedrock/aws4_request, SignedHeaders="
        ),
        "{auth}"
    );
    assert!(auth.contains("content-type;host;x-amz-date"), "{auth}");
    assert!(auth.contains("Signature="), "{auth}");

    let temporary = signed(Some("session-token-value"));
    assert_eq!(
        get(&temporary, "x-amz-security-token"),
        Some("session-token-value")
    );
    let auth = get(&temporary, "authorization").unwrap();
    assert!(auth.contains("x-amz-security-token"), "{auth}");
}

#[test]
fn debug_hides_secrets() {
    let text = format!("{:?}", creds(Some("tok")));
    assert!(!text.contains("conduitSimTestSecretKey"), "{text}");
    assert!(!text.contains("tok\""), "{text}");
}
