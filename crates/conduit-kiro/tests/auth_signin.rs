//! Signing in: Kiro's social sign-in with PKCE and a loopback redirect against the simulator
//! (the test plays the browser by following the printed URL), the account it saves reaching a
//! streamed answer, and a re-login that replaces the whole credential set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_harness;

use std::path::PathBuf;
use std::time::Duration;

use conduit_core::{collect, Block, Message, Request};
use conduit_kiro::auth::kind::AccountKind;
use conduit_kiro::auth::registry::{AccountSource, Registry};
use conduit_kiro::auth::signin::{save_account, NewAccount};
use conduit_kiro::auth::social::{self, SocialLogin, SocialProvider};
use conduit_kiro::auth::store::SecretBackend;
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use conduit_sim::{Sim, SimConfig, DEFAULT_TEXT};
use serde_json::Value;

fn temp_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("conduit-signin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_social_sign_in_with_pkce_saves_an_account_that_reaches_an_answer() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = temp_dir();
    let base = sim.base_url();
    let env = |k: &str| match k {
        "CONDUIT_KIRO_SIGNIN_URL" | "CONDUIT_KIRO_AUTH_URL" | "CONDUIT_SSO_OIDC_URL" => {
            Some(base.clone())
        }
        "CONDUIT_KIRO_API_URL" => Some(format!("{base}/region/{{region}}")),
        "ACCOUNT_SYSTEM" => Some("false".into()),
        _ => None,
    };
    let config = KiroConfig::from_env(env, dir.clone()).unwrap();
    let http = reqwest::Client::new();

    let login = SocialLogin::start(&config, SocialProvider::Github)
        .await
        .unwrap();
    assert!(
        login.url.starts_with(&format!("{base}/signin?")),
        "{}",
        login.url
    );
    assert!(
        login.url.contains("code_challenge_method=S256"),
        "{}",
        login.url
    );
    // The browser: the sign-in page, which redirects back to the loopback listener.
    let url = login.url.clone();
    let browser = tokio::spawn(async move {
        let page = reqwest::Client::new().get(&url).send().await.unwrap();
        (page.status().as_u16(), page.text().await.unwrap())
    });
    let tokens = login.finish(&http, Duration::from_secs(10)).await.unwrap();
    let (status, page) = browser.await.unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("Signed in"), "{page}");

    let entry = social::save(&dir, SecretBackend::File, SocialProvider::Github, &tokens).unwrap();
    assert_eq!(entry.source, AccountSource::Social);
    assert_eq!(entry.kind, Some(AccountKind::Social));
    let file: Value = serde_json::from_slice(&std::fs::read(&entry.token_file).unwrap()).unwrap();
    assert_eq!(file["accountKind"], "social");
    assert_eq!(file["provider"], "Github");

    // conduit's own store is credential source 1.
    let up = KiroUpstream::new(config).unwrap();
    let request = Request {
        model: "claude-sonnet-4-5".into(),
        messages: vec![Message::user_text("hello")],
        max_tokens: Some(512),
        stream: true,
        ..Request::default()
    };
    let response = collect(up.send(request).await.unwrap()).await.unwrap();
    let text: String = response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, DEFAULT_TEXT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_code_with_the_wrong_state_is_ignored_and_a_refused_exchange_says_so() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = temp_dir();
    let mut config = KiroConfig::for_base_url(&sim.base_url(), dir.clone());
    config.signin_url = Some(sim.base_url());
    let login = SocialLogin::start(&config, SocialProvider::Google)
        .await
        .unwrap();
    let port = reqwest::Url::parse(&login.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let state = reqwest::Url::parse(&login.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The browser, while conduit listens: a callback with a forged state (refused, and
    // conduit keeps waiting), then one with the right state and a code the auth service never
    // issued (so the exchange is refused).
    let browser = tokio::spawn(async move {
        let forged = reqwest::get(format!("{port}/oauth/callback?code=x&state=forged"))
            .await
            .unwrap()
            .status()
            .as_u16();
        let cb = format!("{port}/oauth/callback?code=never-issued&state={state}");
        (forged, reqwest::get(cb).await.unwrap().status().as_u16())
    });
    let e = login
        .finish(&reqwest::Client::new(), Duration::from_secs(10))
        .await
        .err()
        .unwrap();
    assert_eq!(browser.await.unwrap(), (400, 200));
    assert!(
        e.contains("refused the sign-in code") && e.contains("conduit login --social"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn device_login(client: &str, region: &str, arn: Option<&str>) -> NewAccount {
    NewAccount {
        source: AccountSource::Device,
        label: match arn {
            Some(_) => "https://d-1.awsapps.com/start / dev".into(),
            None => "https://d-1.awsapps.com/start".into(),
        },
        access_token: Some(format!("access-{client}")),
        refresh_token: format!("refresh-{client}"),
        expires_at: None,
        profile_arn: arn.map(str::to_string),
        region: region.into(),
        auth_method: "IdC",
        kind: AccountKind::Idc,
        provider: Some("Enterprise".into()),
        client_id: Some(client.into()),
        client_secret: Some(format!("secret-{client}")),
        client_secret_expires_at: None,
        start_url: Some("https://d-1.awsapps.com/start".into()),
        extra: serde_json::Map::new(),
    }
}

#[test]
fn a_re_login_replaces_the_whole_credential_set() {
    let dir = temp_dir();
    let arn = "arn:aws:codewhisperer:eu-central-1:1:profile/OLD";
    let mut first = device_login("client-a", "eu-west-1", Some(arn));
    first
        .extra
        .insert("importedFrom".into(), Value::String("/old/place".into()));
    let a = save_account(&dir, SecretBackend::File, &first).unwrap();
    let b = save_account(
        &dir,
        SecretBackend::File,
        &device_login("client-b", "us-east-1", None),
    )
    .unwrap();
    assert_eq!(a.id, b.id, "the same account, not a twin");
    assert_eq!(a.token_file, b.token_file);
    let reg = Registry::load(&dir).unwrap();
    assert_eq!(reg.accounts.len(), 1);
    assert_eq!(
        reg.accounts[0].profile_arn, None,
        "no cached ARN of the old identity"
    );
    let file: Value = serde_json::from_slice(&std::fs::read(&b.token_file).unwrap()).unwrap();
    assert_eq!(file["clientId"], "client-b");
    assert_eq!(file["clientSecret"], "secret-client-b");
    assert_eq!(file["refreshToken"], "refresh-client-b");
    assert_eq!(file["region"], "us-east-1");
    for stale in ["profileArn", "apiRegion", "importedFrom"] {
        assert!(file.get(stale).is_none(), "{stale} survived: {file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_running_gateway_takes_a_new_sign_in_from_the_next_request_on() {
    use client_harness::{ask, Harness, Token};
    let h = Harness::start(Token::Valid).await;
    let refresh_b = format!("refresh-b-{}", "r".repeat(100));
    h.sim.add_account(
        conduit_sim::Account::new("access-b", refresh_b.clone())
            .with_profile_arn(client_harness::ARN),
    );
    let up = h.upstream();
    assert_eq!(ask(&up, "hi").await.unwrap(), DEFAULT_TEXT);
    // A new sign-in rewrites the token file whole (another identity, other keys).
    std::thread::sleep(Duration::from_millis(20));
    let file = serde_json::json!({"accessToken": "access-b", "refreshToken": refresh_b,
        "expiresAt": "2099-01-01T00:00:00.000Z", "authMethod": "social", "provider": "Google",
        "profileArn": client_harness::ARN, "signedInAt": "2026-12-04T16:00:00Z"});
    std::fs::write(&h.creds_file, file.to_string()).unwrap();
    assert_eq!(ask(&up, "hi").await.unwrap(), DEFAULT_TEXT);
    let bearers: Vec<String> = h
        .sim
        .log()
        .iter()
        .filter(|e| e.path == "/generateAssistantResponse")
        .filter_map(|e| e.bearer().map(str::to_string))
        .collect();
    assert_eq!(
        bearers,
        vec![client_harness::ACCESS.to_string(), "access-b".to_string()]
    );
    assert_eq!(h.refreshes(), 0, "no refresh needed to switch");
}
