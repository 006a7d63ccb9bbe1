//! The sources in order (API key, static environment keys), and what `describe` shows.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use super::*;

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

#[tokio::test]
async fn an_api_key_comes_first_then_static_keys() {
    let both = env(&[
        ("AWS_BEARER_TOKEN_BEDROCK", "ABSKkey"),
        ("AWS_ACCESS_KEY_ID", "AKIA1"),
        ("AWS_SECRET_ACCESS_KEY", "secret1"),
    ]);
    let c = Credentials::load("AWS_BEARER_TOKEN_BEDROCK", "us-east-1", None, &both).await;
    assert!(matches!(c.get("test").await.unwrap(), Auth::Bearer(k) if k == "ABSKkey"));
    assert_eq!(c.label(), "Bedrock API key");
    assert_eq!(c.describe(), "Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)");

    let keys = env(&[
        ("AWS_ACCESS_KEY_ID", "AKIA1"),
        ("AWS_SECRET_ACCESS_KEY", "secret1"),
        ("AWS_SESSION_TOKEN", " tok "),
    ]);
    let c = Credentials::load("AWS_BEARER_TOKEN_BEDROCK", "us-east-1", None, &keys).await;
    let Auth::SigV4(creds) = c.get("test").await.unwrap() else {
        panic!("want SigV4");
    };
    assert_eq!(creds.access_key_id, "AKIA1");
    assert_eq!(creds.session_token.as_deref(), Some("tok"));
    assert_eq!(c.label(), "AWS credentials");
    assert!(!c.describe().contains("secret1"), "{}", c.describe());
}
