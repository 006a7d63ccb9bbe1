//! Unit tests for the Kiro configuration: env parsing, validation and URL derivation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Result<KiroConfig, String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    KiroConfig::from_env(|k| map.get(k).cloned(), PathBuf::from("/data"))
}

#[test]
fn defaults_from_an_empty_environment() {
    let c = env(&[("HOME", "/home/u")]).unwrap();
    assert_eq!(c.first_token_timeout, Duration::from_secs(15));
    assert_eq!(c.first_token_max_retries, 3);
    assert_eq!(c.binding, Binding::RestJson);
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(c.creds_file, None, "from_env discovers, it does not pin");
    assert!(c.discover);
    assert_eq!(
        c.ide_creds_file,
        Some(PathBuf::from("/home/u/.aws/sso/cache/kiro-auth-token.json"))
    );
    assert!(c
        .cli_db_default_paths
        .contains(&PathBuf::from("/home/u/.local/share/kiro-cli/data.sqlite3")));
    assert_eq!(c.sso_start_url, BUILDER_ID_START_URL);
    assert_eq!(c.sso_region(), "us-east-1");
    assert_eq!(c.api_url_for(None), "https://q.us-east-1.amazonaws.com");
    assert_eq!(
        c.auth_url_for("us-east-1"),
        "https://prod.us-east-1.auth.desktop.kiro.dev"
    );
    assert_eq!(
        c.sso_oidc_url_for("eu-west-1"),
        "https://oidc.eu-west-1.amazonaws.com"
    );
}

#[test]
fn api_url_follows_the_profile_arn_region() {
    let c = env(&[(
        "PROFILE_ARN",
        "arn:aws:codewhisperer:eu-central-1:123456789012:profile/ABC",
    )])
    .unwrap();
    assert_eq!(
        c.api_url_for(c.profile_arn.as_deref()),
        "https://q.eu-central-1.amazonaws.com"
    );
}

#[test]
fn explicit_urls_win_and_lose_their_trailing_slash() {
    let c = env(&[
        ("CONDUIT_KIRO_API_URL", "http://127.0.0.1:9/"),
        ("CONDUIT_KIRO_AUTH_URL", "http://127.0.0.1:9"),
        ("CONDUIT_SSO_OIDC_URL", "http://127.0.0.1:9"),
        ("KIRO_REFRESH_TOKEN", "r"),
    ])
    .unwrap();
    assert_eq!(
        c.api_url_for(Some("arn:aws:codewhisperer:eu-central-1:1:profile/x")),
        "http://127.0.0.1:9"
    );
    assert_eq!(c.auth_url_for("eu-west-1"), "http://127.0.0.1:9");
    assert_eq!(
        c.creds_file, None,
        "an env refresh token needs no default file"
    );
}

#[test]
fn values_are_parsed() {
    let c = env(&[
        ("FIRST_TOKEN_TIMEOUT", "0.5"),
        ("FIRST_TOKEN_MAX_RETRIES", "1"),
        ("CONDUIT_KIRO_BINDING", "aws-json"),
        ("KIRO_REGION", "ap-southeast-2"),
        (
            "CONDUIT_KIRO_MODEL_OVERRIDES",
            "claude-sonnet-4-5=claude-sonnet-4.6, x = y",
        ),
    ])
    .unwrap();
    assert_eq!(c.first_token_timeout, Duration::from_millis(500));
    assert_eq!(c.first_token_max_retries, 1);
    assert_eq!(c.binding, Binding::AwsJson);
    assert_eq!(c.region, "ap-southeast-2");
    assert_eq!(c.model_overrides.get("x").map(String::as_str), Some("y"));
    assert_eq!(c.model_overrides.len(), 2);
}

#[test]
fn bad_values_are_rejected_with_the_key_named() {
    let cases: &[(&str, &str)] = &[
        ("CONDUIT_KIRO_API_URL", "q.us-east-1.amazonaws.com"),
        ("FIRST_TOKEN_TIMEOUT", "soon"),
        ("FIRST_TOKEN_TIMEOUT", "-1"),
        ("FIRST_TOKEN_MAX_RETRIES", "-1"),
        ("KIRO_REGION", "US East"),
        ("PROFILE_ARN", "arn:aws:iam::1:role/x"),
        ("CONDUIT_KIRO_BINDING", "grpc"),
        ("CONDUIT_KIRO_MODEL_OVERRIDES", "nonsense"),
        ("KIRO_REFRESH_TOKEN", "aorAAAAAG...truncated"),
    ];
    for (key, value) in cases {
        let err = env(&[(key, value)]).unwrap_err();
        assert!(err.contains(key), "{key}={value}: {err}");
    }
}

#[test]
fn debug_never_shows_the_refresh_token() {
    let c = env(&[("KIRO_REFRESH_TOKEN", "super-secret-token")]).unwrap();
    assert!(!format!("{c:?}").contains("super-secret"));
}

#[test]
fn backoff_doubles_caps_and_jitters_within_a_quarter() {
    let p = RetryPolicy::default();
    let expected = [200u64, 400, 800, 1600, 2000, 2000];
    for (retry, ms) in expected.iter().enumerate() {
        let base = p.base_delay(retry as u32);
        assert_eq!(base, Duration::from_millis(*ms));
        for _ in 0..20 {
            let d = p.delay(retry as u32);
            assert!(d >= base && d <= base.mul_f64(1.25), "{d:?} vs {base:?}");
        }
    }
}

#[test]
fn profile_arn_region_parsing() {
    let cases = [
        (
            "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK",
            Some("us-east-1"),
        ),
        (
            "arn:aws:codewhisperer:eu-central-1:1:profile/x",
            Some("eu-central-1"),
        ),
        ("arn:aws:s3:us-east-1:1:bucket", None),
        ("nonsense", None),
    ];
    for (arn, want) in cases {
        assert_eq!(region_of_profile_arn(arn), want, "{arn}");
    }
}

#[test]
fn sso_settings_are_parsed_and_the_region_follows_the_start_url() {
    let c = env(&[
        ("CONDUIT_SSO_START_URL", "https://acme.awsapps.com/start/"),
        ("KIRO_REGION", "eu-west-1"),
    ])
    .unwrap();
    assert_eq!(c.sso_start_url, "https://acme.awsapps.com/start");
    assert_eq!(c.sso_region(), "eu-west-1");
    let c = env(&[
        ("CONDUIT_SSO_REGION", "ap-south-1"),
        ("CONDUIT_SECRET_STORE", "file"),
    ])
    .unwrap();
    assert_eq!(c.sso_region(), "ap-south-1");
    for (k, v) in [
        ("CONDUIT_SSO_REGION", "mars"),
        ("CONDUIT_SSO_START_URL", "acme.awsapps.com"),
        ("CONDUIT_SECRET_STORE", "vault"),
    ] {
        let e = env(&[(k, v)]).unwrap_err();
        assert!(e.contains(k), "{e}");
    }
}
