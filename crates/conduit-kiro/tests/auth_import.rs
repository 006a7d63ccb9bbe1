//! Stories of importing accounts: from a kiro-cli SQLite database (built here with the
//! `auth_kv` and `state` tables of spec §1.3) and from a Kiro IDE token file with its
//! `{clientIdHash}.json` client; and taking the origin's tokens when it rotated first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use conduit_kiro::auth::import::{import_ide, import_kiro_cli};
use conduit_kiro::auth::registry::Registry;
use conduit_kiro::auth::store::SecretBackend;
use conduit_kiro::auth::Auth;
use conduit_kiro::config::KiroConfig;
use conduit_sim::{Account, Sim, SimConfig};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:codewhisperer:us-east-1:111122223333:profile/CLIPROFILE";

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("conduit-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn long(tag: &str) -> String {
    format!("{tag}-{}", "x".repeat(110))
}

fn cli_db(path: &Path, access: &str, refresh: &str, client: (&str, &str)) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS auth_kv (key TEXT PRIMARY KEY, value TEXT);
         CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    let token = json!({"access_token": access, "refresh_token": refresh,
        "expires_at": "2099-05-18T10:11:12.123456789Z", "region": "us-east-1",
        "start_url": "https://view.awsapps.com/start", "oauth_flow": "DeviceCode",
        "scopes": ["codewhisperer:completions"]});
    let reg = json!({"client_id": client.0, "client_secret": client.1,
        "client_secret_expires_at": "2099-08-01T00:00:00Z", "region": "us-east-1"});
    conn.execute(
        "INSERT OR REPLACE INTO auth_kv VALUES ('kirocli:odic:token', ?1)",
        [token.to_string()],
    )
    .unwrap();
    conn.execute(
        "INSERT OR REPLACE INTO auth_kv VALUES ('kirocli:odic:device-registration', ?1)",
        [reg.to_string()],
    )
    .unwrap();
    conn.execute(
        "INSERT OR REPLACE INTO state VALUES ('api.codewhisperer.profile', ?1)",
        [json!({"arn": ARN, "profile_name": "cli-profile"})
            .to_string()
            .into_bytes()],
    )
    .unwrap();
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn a_kiro_cli_database_is_copied_into_conduits_store() {
    let dir = tmp();
    let db = dir.join("data.sqlite3");
    cli_db(&db, "cli-access", &long("cli-refresh"), ("cid", "csecret"));
    let data = dir.join("data");
    let entry = import_kiro_cli(&db, &data, SecretBackend::File).unwrap();
    assert_eq!(entry.source.as_str(), "kiro-cli");
    assert_eq!(entry.profile_arn.as_deref(), Some(ARN));
    assert_eq!(entry.token_file, data.join("kiro-auth-token.json"));
    let t = read(&entry.token_file);
    assert_eq!(t["accessToken"], "cli-access");
    assert_eq!(t["refreshToken"], long("cli-refresh"));
    assert_eq!(t["clientId"], "cid");
    assert_eq!(t["clientSecret"], "csecret");
    assert_eq!(t["authMethod"], "IdC");
    assert_eq!(t["profileArn"], ARN);
    assert_eq!(t["importedKind"], "kiro-cli");
    assert!(entry.label.contains("cli-profile"), "{}", entry.label);
    assert_eq!(Registry::load(&data).unwrap().accounts.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_ide_token_file_with_its_client_file_is_imported() {
    let dir = tmp();
    let cache = dir.join("sso-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join("abc123.json"),
        json!({"clientId": "ide-client", "clientSecret": "ide-secret",
            "expiresAt": "2099-01-01T00:00:00Z"})
        .to_string(),
    )
    .unwrap();
    let ide = cache.join("kiro-auth-token.json");
    std::fs::write(
        &ide,
        json!({"accessToken": "ide-access", "refreshToken": long("ide-refresh"),
            "expiresAt": "2099-01-01T00:00:00.000Z", "clientIdHash": "abc123",
            "authMethod": "IdC", "provider": "BuilderId", "region": "us-east-1"})
        .to_string(),
    )
    .unwrap();
    let data = dir.join("data");
    let entry = import_ide(&ide, &data, SecretBackend::File).unwrap();
    assert_eq!(entry.source.as_str(), "ide");
    let t = read(&entry.token_file);
    assert_eq!(t["clientId"], "ide-client");
    assert_eq!(t["clientSecret"], "ide-secret");
    assert_eq!(t["provider"], "BuilderId");
    assert_eq!(t["importedFrom"], ide.display().to_string());
    assert_ne!(entry.token_file, ide, "a copy, never the IDE's own file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn when_kiro_cli_rotated_first_conduit_takes_its_newer_tokens() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let (id, secret) = ("rot-client", "rot-secret");
    let r1 = long("refresh-one");
    let mut acc = Account::new("access-one", &r1).with_profile_arn(ARN);
    acc.kind = conduit_sim::AccountKind::Idc;
    acc.client_id = Some(id.into());
    acc.client_secret = Some(secret.into());
    acc.expires_in = 3600;
    sim.add_account(acc);
    let dir = tmp();
    let db = dir.join("data.sqlite3");
    cli_db(&db, "access-one", &r1, (id, secret));
    let data = dir.join("data");
    let entry = import_kiro_cli(&db, &data, SecretBackend::File).unwrap();

    // kiro-cli refreshes first: the sim rotates, and kiro-cli's database gets the new pair.
    let http = reqwest::Client::new();
    let v: Value = http
        .post(format!("{}/token", sim.base_url()))
        .json(
            &json!({"clientId": id, "clientSecret": secret, "grantType": "refresh_token",
            "refreshToken": r1}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (a2, r2) = (
        v["accessToken"].as_str().unwrap(),
        v["refreshToken"].as_str().unwrap(),
    );
    cli_db(&db, a2, r2, (id, secret));

    // conduit's copy has an aged access token and the dead refresh token.
    let mut t = read(&entry.token_file);
    t["expiresAt"] = json!("2020-01-01T00:00:00.000Z");
    std::fs::write(&entry.token_file, serde_json::to_vec(&t).unwrap()).unwrap();
    let mut c = KiroConfig::for_base_url(&sim.base_url(), data.clone());
    c.creds_file = Some(entry.token_file.clone());
    let auth = Auth::new(Arc::new(c), http);
    let token = auth.access_token().await.unwrap();
    assert_eq!(
        token.access_token, a2,
        "kiro-cli's still-valid token is taken over"
    );
    assert_eq!(read(&entry.token_file)["refreshToken"], r2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_entra_id_token_file_and_kiro_clis_token_file_are_imported_with_their_kind() {
    let dir = tmp();
    let data = dir.join("data");
    let entra = dir.join("entra.json");
    std::fs::write(
        &entra,
        json!({"accountKind": "external_idp", "accessToken": "a", "refreshToken": long("entra"),
            "expiresAt": "2099-01-01T00:00:00.000Z", "clientId": "public-client",
            "tenantId": "contoso", "scope": "api://kiro/.default"})
        .to_string(),
    )
    .unwrap();
    let e = import_ide(&entra, &data, SecretBackend::File).unwrap();
    assert_eq!(
        e.kind,
        Some(conduit_kiro::auth::kind::AccountKind::ExternalIdp)
    );
    assert!(e.label.starts_with("Entra ID contoso"), "{}", e.label);
    let copy: Value = serde_json::from_slice(&std::fs::read(&e.token_file).unwrap()).unwrap();
    for (k, v) in [
        ("accountKind", "external_idp"),
        ("authMethod", "external_idp"),
        ("clientId", "public-client"),
        ("tenantId", "contoso"),
        ("scope", "api://kiro/.default"),
    ] {
        assert_eq!(copy[k], v, "{k}: {copy}");
    }

    let cache = dir.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let cli = cache.join("kiro-auth-token-cli.json");
    std::fs::write(
        &cli,
        json!({"accessToken": "b", "refreshToken": long("cli"), "authMethod": "social",
            "provider": "Github", "profileArn": ARN, "expiresAt": "2099-01-01T00:00:00.000Z"})
        .to_string(),
    )
    .unwrap();
    let c = import_ide(&cli, &data, SecretBackend::File).unwrap();
    assert_eq!(
        c.source,
        conduit_kiro::auth::registry::AccountSource::KiroCli
    );
    assert_eq!(c.kind, Some(conduit_kiro::auth::kind::AccountKind::Social));
    assert!(c.label.starts_with("kiro-cli Github"), "{}", c.label);
    assert_eq!(Registry::load(&data).unwrap().accounts.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kiro_clis_token_file_is_found_after_the_ides() {
    let dir = tmp();
    let home = dir.join("home");
    let cache = home.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join("kiro-auth-token-cli.json"),
        json!({"accessToken": "cli-access", "refreshToken": long("cli"),
            "expiresAt": "2099-01-01T00:00:00.000Z", "authMethod": "social", "profileArn": ARN})
        .to_string(),
    )
    .unwrap();
    let h = home.display().to_string();
    let config =
        KiroConfig::from_env(|k| (k == "HOME").then(|| h.clone()), dir.join("data")).unwrap();
    let auth = Auth::new(Arc::new(config), reqwest::Client::new());
    let status = auth.status();
    assert!(
        status
            .source
            .as_deref()
            .is_some_and(|s| s.ends_with("kiro-auth-token-cli.json")),
        "{status:?}"
    );
    assert_eq!(
        auth.access_token().await.unwrap().access_token,
        "cli-access"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
