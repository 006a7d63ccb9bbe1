//! Bedrock runtime authentication: requests signed by the real `aws-sigv4` pass the sim's own
//! verifier (regions, percent-encoded ids, application-profile ARNs); wrong secrets, unknown keys,
//! wrong service or region scope, stale clocks and bad API keys get Bedrock's exact answers.
#![allow(
    clippy::unwrap_used,
    clippy::type_complexity,
    reason = "test helpers panic on unexpected answers; case tables are tuples"
)]

mod messages_common;

use std::collections::BTreeMap;

use conduit_sim::bedrock::TEST_BEDROCK_API_KEY;
use conduit_sim::ConfigPatch;
use messages_common::*;
use serde_json::{json, Value};

const OPUS: &str = "us.anthropic.claude-opus-4-7";
const STREAM: &str = "invoke-with-response-stream";
const APP_PROFILE: &str =
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6";

#[tokio::test]
async fn correctly_signed_requests_pass() {
    let sim = sim().await;
    sim.configure(ConfigPatch {
        bedrock_application_profiles: Some(BTreeMap::from([(
            APP_PROFILE.to_owned(),
            "anthropic.claude-sonnet-4-6".to_owned(),
        )])),
        ..ConfigPatch::default()
    });
    let cases: &[(Option<&str>, &str, &str)] = &[
        (Some("us-east-1"), OPUS, "invoke"),
        (Some("us-west-2"), OPUS, STREAM),
        (Some("eu-west-1"), "eu.anthropic.claude-sonnet-4-6", STREAM),
        (
            Some("ap-northeast-1"),
            "jp.anthropic.claude-sonnet-4-6",
            "invoke",
        ),
        (
            Some("eu-central-1"),
            "global.anthropic.claude-opus-4-7",
            STREAM,
        ),
        (
            Some("us-east-1"),
            "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            STREAM,
        ),
        (Some("us-east-1"), APP_PROFILE, STREAM),
        (None, OPUS, "invoke"),
    ];
    for (i, (region, id, op)) in cases.iter().enumerate() {
        let mut signer = Signer::new(region.unwrap_or("us-east-1"));
        if i % 2 == 1 {
            signer.session_token = Some("IQoJb3JpZ2luX2VjEXAMPLESESSION".to_owned());
        }
        let ep = endpoint(&sim, *region);
        let resp = post_signed(
            &ep,
            id,
            op,
            body("hi").to_string().as_bytes(),
            Some(&signer),
        )
        .await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{region:?} {id} {op}: {text}");
    }
}

#[tokio::test]
async fn auth_failures() {
    let sim = sim().await;
    let ep = endpoint(&sim, Some("us-east-1"));
    let b = body("hi").to_string();
    let base = Signer::new("us-east-1");
    let cases: Vec<(&str, Option<Signer>, &str, &str)> = vec![
        ("no auth", None, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ("wrong secret", Some(base.clone().secret("nope")), "InvalidSignatureException",
         "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
        ("unknown key", Some(base.clone().access_key("AKIAUNKNOWN000000000")), "UnrecognizedClientException",
         "The security token included in the request is invalid."),
        ("wrong service", Some(base.clone().service("bedrock-runtime")), "InvalidSignatureException",
         "Credential should be scoped to correct service: 'bedrock'. "),
        ("wrong region", Some(Signer::new("us-west-2")), "InvalidSignatureException",
         "Credential should be scoped to a valid region. "),
        ("stale clock", Some(Signer { time: std::time::SystemTime::now() - std::time::Duration::from_secs(600), ..base.clone() }),
         "InvalidSignatureException", "Signature expired: the X-Amz-Date is more than 5 minutes away from the current time."),
    ];
    for (name, signer, kind, message) in cases {
        let resp = post_signed(&ep, OPUS, "invoke", b.as_bytes(), signer.as_ref()).await;
        assert_eq!(resp.status().as_u16(), 403, "{name}");
        assert_eq!(error_type(&resp), kind, "{name}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({ "message": message }), "{name}");
    }
    // A configured extra service name is accepted.
    sim.configure(ConfigPatch {
        bedrock_signing_services: Some(vec!["bedrock".into(), "bedrock-runtime".into()]),
        ..ConfigPatch::default()
    });
    let s = base.service("bedrock-runtime");
    let resp = post_signed(&ep, OPUS, "invoke", b.as_bytes(), Some(&s)).await;
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn bearer_keys() {
    let sim = sim().await;
    let ep = endpoint(&sim, Some("us-east-1"));
    let cases = [
        (TEST_BEDROCK_API_KEY, 200, ""),
        (
            "not-a-key",
            403,
            "Invalid API Key format: Must start with pre-defined prefix",
        ),
        (
            "ABSKdW5rbm93bg==",
            403,
            "Authentication failed: Please make sure your API Key is valid.",
        ),
    ];
    for (key, status, message) in cases {
        let resp = post_bearer(&ep, OPUS, "invoke", &body("hi"), key).await;
        assert_eq!(resp.status().as_u16(), status, "{key}");
        if status != 200 {
            assert_eq!(error_type(&resp), "AccessDeniedException");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["message"], message);
        }
    }
}
