//! Unit tests for credential files: reading both login kinds, write-back that preserves keys.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::file::{env_creds, read_token_file, write_back};
use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "conduit-kiro-auth-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_json(path: &std::path::Path, v: Value) {
    fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn reads_a_social_token_file() {
    let dir = temp_dir("social");
    let path = dir.join("kiro-auth-token.json");
    write_json(
        &path,
        json!({
            "accessToken": "a", "refreshToken": "r", "expiresAt": "2025-12-01T11:03:43.000Z",
            "profileArn": "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK",
            "authMethod": "social", "provider": "Google", "region": "us-east-1"
        }),
    );
    let c = read_token_file(&path, "eu-west-1").unwrap();
    assert_eq!(c.method, AuthMethod::Social);
    assert_eq!(c.access_token.as_deref(), Some("a"));
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.expires_at.unwrap().unix_timestamp(), 1_764_587_023);
    assert!(c.profile_arn.is_some());
}

#[test]
fn reads_an_idc_token_file_and_its_client_registration() {
    let dir = temp_dir("idc");
    let path = dir.join("kiro-auth-token.json");
    write_json(
        &path,
        json!({
            "accessToken": "a", "refreshToken": "r", "expiresAt": "2026-05-18T10:11:12.123456789Z",
            "clientIdHash": "abc123", "authMethod": "IdC", "provider": "BuilderId", "region": "eu-west-1"
        }),
    );
    write_json(
        &dir.join("abc123.json"),
        json!({"clientId": "cid", "clientSecret": "sec", "expiresAt": "2026-03-01T11:03:43.000Z"}),
    );
    let c = read_token_file(&path, "us-east-1").unwrap();
    assert_eq!(c.method, AuthMethod::Idc);
    assert_eq!(c.client_id.as_deref(), Some("cid"));
    assert_eq!(c.client_secret.as_deref(), Some("sec"));
    assert_eq!(c.region, "eu-west-1");
    assert!(c.expires_at.is_some(), "nanosecond fractions parse");
}

#[test]
fn idc_without_a_client_falls_back_to_social_and_missing_files_say_what_to_do() {
    let dir = temp_dir("noclient");
    let path = dir.join("kiro-auth-token.json");
    write_json(
        &path,
        json!({"refreshToken": "r", "authMethod": "IdC", "clientIdHash": "missing"}),
    );
    assert_eq!(
        read_token_file(&path, "us-east-1").unwrap().method,
        AuthMethod::Social
    );
    let err = read_token_file(&dir.join("nope.json"), "us-east-1")
        .err()
        .unwrap();
    assert!(err.contains("conduit login"), "{err}");
    write_json(&path, json!({"accessToken": "a"}));
    assert!(read_token_file(&path, "us-east-1")
        .err()
        .unwrap()
        .contains("refreshToken"));
}

#[test]
fn write_back_replaces_tokens_and_keeps_other_keys_private() {
    let dir = temp_dir("writeback");
    let path = dir.join("kiro-auth-token.json");
    write_json(
        &path,
        json!({
            "accessToken": "old", "refreshToken": "old-r", "expiresAt": "2020-01-01T00:00:00.000Z",
            "authMethod": "social", "provider": "Github", "priority": 3, "nested": {"x": [1, 2]}
        }),
    );
    let mut c = read_token_file(&path, "us-east-1").unwrap();
    c.access_token = Some("new".into());
    c.refresh_token = "new-r".into();
    c.expires_at = parse_time("2030-01-02T03:04:05.678901Z");
    write_back(&Source::File(path.clone()), &c, None).unwrap();
    let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["accessToken"], "new");
    assert_eq!(v["refreshToken"], "new-r");
    assert_eq!(v["expiresAt"], "2030-01-02T03:04:05.678Z");
    assert_eq!(v["provider"], "Github");
    assert_eq!(v["priority"], 3);
    assert_eq!(v["nested"], json!({"x": [1, 2]}));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn env_token_state_is_used_only_for_the_same_seed() {
    let dir = temp_dir("env");
    let state = dir.join(ENV_TOKEN_FILE);
    let fresh = env_creds("seed-1", &state, "us-east-1");
    assert_eq!(fresh.refresh_token, "seed-1");
    assert!(fresh.access_token.is_none());
    let mut rotated = fresh.clone();
    rotated.access_token = Some("a".into());
    rotated.refresh_token = "rotated".into();
    write_back(
        &Source::Env {
            state_file: state.clone(),
        },
        &rotated,
        Some("seed-1"),
    )
    .unwrap();
    assert_eq!(
        env_creds("seed-1", &state, "us-east-1").refresh_token,
        "rotated"
    );
    assert_eq!(
        env_creds("seed-2", &state, "us-east-1").refresh_token,
        "seed-2"
    );
    assert!(
        !fs::read_to_string(&state).unwrap().contains("seed-1"),
        "the seed is stored hashed"
    );
}

#[tokio::test]
async fn missing_credentials_are_a_credentials_error_with_advice() {
    let dir = temp_dir("none");
    let mut config = KiroConfig::new(dir.clone());
    config.creds_file = Some(dir.join("absent.json"));
    let auth = Auth::new(Arc::new(config), reqwest::Client::new());
    let err = auth.access_token().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials);
    assert!(err.message.contains("conduit login"), "{}", err.message);
    let status = auth.status();
    assert!(!status.healthy);
    assert!(status.last_error.is_some());
}

#[test]
fn token_debug_is_redacted() {
    let t = Token {
        access_token: "secret".into(),
        profile_arn: None,
        method: AuthMethod::Social,
        kind: kind::AccountKind::Social,
        generation: 1,
    };
    assert!(!format!("{t:?}").contains("secret"));
}

#[test]
fn entra_id_and_kiro_cli_token_files_are_read_with_their_kind() {
    let dir = temp_dir("kinds");
    let path = dir.join("entra.json");
    write_json(
        &path,
        json!({
            "accountKind": "external_idp", "accessToken": "a", "refreshToken": "r",
            "clientId": "public-client", "tenantId": "contoso", "scope": "api://kiro/.default"
        }),
    );
    let c = read_token_file(&path, "us-east-1").unwrap();
    assert_eq!(c.kind, kind::AccountKind::ExternalIdp);
    assert_eq!(c.method, AuthMethod::ExternalIdp);
    let idp = c.idp.unwrap();
    assert_eq!(idp.tenant.as_deref(), Some("contoso"));
    assert_eq!(idp.scope.as_deref(), Some("api://kiro/.default"));

    write_json(
        &path,
        json!({"refreshToken": "r", "authMethod": "IdC", "provider": "BuilderId",
               "clientId": "c", "clientSecret": "s"}),
    );
    let c = read_token_file(&path, "us-east-1").unwrap();
    assert_eq!(c.kind, kind::AccountKind::BuilderId);
    let t = token_of(&c, 1);
    assert_eq!(
        t.profile_arn.as_deref(),
        Some(kind::BUILDER_ID_PLACEHOLDER_ARN),
        "a Builder ID sends the placeholder"
    );
}
