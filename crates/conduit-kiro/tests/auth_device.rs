//! Stories of the device-flow sign-in against the simulator: sign in, discover the profile,
//! save the account privately; the poll answers (pending, slow_down, denied, expired); the
//! cached client registration; refresh of the signed-in IdC account with rotation, and a dead
//! refresh token reported once without a storm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use conduit_kiro::auth::device::{DeviceError, Poll};
use conduit_kiro::auth::login::{self, LoginSettings};
use conduit_kiro::auth::profiles::Choice;
use conduit_kiro::auth::registry::Registry;
use conduit_kiro::auth::store::SecretBackend;
use conduit_kiro::auth::{Auth, DEAD_CREDENTIALS};
use conduit_kiro::config::KiroConfig;
use conduit_sim::{Sim, SimConfig, SimHandle};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:codewhisperer:eu-central-1:111122223333:profile/ACMEPROFILE";
const START_URL: &str = "https://acme.awsapps.com/start";

struct Story {
    sim: SimHandle,
    dir: PathBuf,
    config: KiroConfig,
    settings: LoginSettings,
    http: reqwest::Client,
}

impl Drop for Story {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn story(profiles: Value) -> Story {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/_sim/config", sim.base_url()))
        .json(&json!({"device_profiles": profiles}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let dir = std::env::temp_dir().join(format!("conduit-device-{}", uuid::Uuid::new_v4()));
    let mut config = KiroConfig::for_base_url(&sim.base_url(), dir.clone());
    config.sso_start_url = START_URL.into();
    config.sso_region = Some("ap-south-1".into());
    config.secret_store = conduit_kiro::auth::store::SecretStoreMode::File;
    let settings = LoginSettings::from_config(&config);
    Story {
        sim,
        dir,
        config,
        settings,
        http,
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Signs in the whole way; returns the token file.
async fn sign_in(s: &Story) -> PathBuf {
    let mut flow = s.settings.begin(&s.http).await.unwrap();
    assert!(s.sim.approve_device(&flow.prompt.user_code));
    let tokens = flow.wait(|_| {}).await.unwrap();
    let profile = match login::discover_profile(&s.http, &s.config, &s.settings, &tokens)
        .await
        .unwrap()
    {
        Choice::Use(p) => p,
        other => panic!("expected one profile, got {other:?}"),
    };
    let entry = login::save(&s.settings, &flow.registration, &tokens, Some(&profile)).unwrap();
    entry.token_file
}

#[tokio::test]
async fn a_device_sign_in_ends_with_the_profile_arn_and_a_private_token_file() {
    let s = story(json!([{"arn": ARN, "profile_name": "acme"}])).await;
    let file = sign_in(&s).await;
    assert_eq!(file, s.dir.join("kiro-auth-token.json"));
    assert_eq!(mode(&file), 0o600);
    let t = read(&file);
    assert_eq!(t["profileArn"], ARN);
    assert_eq!(t["region"], "ap-south-1", "the SSO region");
    assert_eq!(
        t["apiRegion"], "eu-central-1",
        "the API region comes from the ARN"
    );
    assert_eq!(t["authMethod"], "IdC");
    assert_eq!(t["provider"], "Enterprise");
    assert_eq!(t["startUrl"], START_URL);
    for k in [
        "accessToken",
        "refreshToken",
        "expiresAt",
        "clientId",
        "clientSecret",
    ] {
        assert!(t[k].as_str().is_some_and(|v| !v.is_empty()), "{k} in {t}");
    }
    let reg_file = s.dir.join("client_registration.json");
    assert_eq!(mode(&reg_file), 0o600);
    assert_eq!(mode(&s.dir.join("credentials.json")), 0o600);
    let reg = Registry::load(&s.dir).unwrap();
    assert_eq!(reg.accounts.len(), 1);
    let a = &reg.accounts[0];
    assert_eq!(a.profile_arn.as_deref(), Some(ARN));
    assert_eq!(a.source.as_str(), "device");
    assert_eq!(a.label, format!("{START_URL} / acme"));
    assert!(a.id.starts_with("acc_"));

    // Signing in again reuses the registered client and replaces the same account's tokens.
    sign_in(&s).await;
    assert_eq!(s.sim.count("/client/register"), 1);
    assert_eq!(Registry::load(&s.dir).unwrap().accounts.len(), 1);

    // The signed-in account serves chat through the discovered profile.
    let mut c = s.config.clone();
    c.creds_file = Some(file);
    let auth = Auth::new(Arc::new(c), reqwest::Client::new());
    let token = auth.access_token().await.unwrap();
    assert_eq!(token.profile_arn.as_deref(), Some(ARN));
    assert_eq!(auth.status().secret_store, SecretBackend::File);
}

#[tokio::test]
async fn polling_too_fast_slows_down_and_denied_or_expired_codes_end_clearly() {
    let s = story(json!([{"arn": ARN, "profile_name": "acme"}])).await;
    let mut flow = s.settings.begin(&s.http).await.unwrap();
    let before = flow.interval();
    assert!(matches!(flow.poll().await.unwrap(), Poll::Pending));
    assert!(matches!(flow.poll().await.unwrap(), Poll::SlowDown));
    assert_eq!(flow.interval(), before + std::time::Duration::from_secs(5));
    assert!(s.sim.deny_device(&flow.prompt.user_code));
    let e = flow.poll().await.err().unwrap();
    assert_eq!(e, DeviceError::Denied);
    assert!(e.to_string().contains("denied"), "{e}");

    let mut flow = s.settings.begin(&s.http).await.unwrap();
    let r = s
        .http
        .post(format!("{}/_sim/device/expire", s.sim.base_url()))
        .json(&json!({"user_code": flow.prompt.user_code}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let e = flow.poll().await.err().unwrap();
    assert_eq!(e, DeviceError::Expired);
    assert!(e.to_string().contains("conduit login"), "{e}");
}

#[tokio::test]
async fn several_profiles_need_a_choice_unless_profile_arn_names_one() {
    let other = "arn:aws:codewhisperer:us-east-1:111122223333:profile/OTHER";
    let mut s = story(json!([{"arn": ARN, "profile_name": "acme"},
        {"arn": other, "profile_name": "other"}]))
    .await;
    let mut flow = s.settings.begin(&s.http).await.unwrap();
    s.sim.approve_device(&flow.prompt.user_code);
    let tokens = flow.wait(|_| {}).await.unwrap();
    let choice = login::discover_profile(&s.http, &s.config, &s.settings, &tokens)
        .await
        .unwrap();
    assert!(
        matches!(choice, Choice::Ask(ref l) if l.len() == 2),
        "{choice:?}"
    );
    s.settings.profile_arn = Some(other.into());
    let choice = login::discover_profile(&s.http, &s.config, &s.settings, &tokens)
        .await
        .unwrap();
    assert!(
        matches!(choice, Choice::Use(ref p) if p.arn == other),
        "{choice:?}"
    );
}

#[tokio::test]
async fn an_idc_account_refreshes_with_its_client_and_rotation_is_saved() {
    let s = story(json!([{"arn": ARN, "profile_name": "acme"}])).await;
    let file = sign_in(&s).await;
    let first = read(&file);
    let old_access = first["accessToken"].as_str().unwrap().to_string();
    let old_refresh = first["refreshToken"].as_str().unwrap().to_string();
    assert!(s.sim.expire_access_token(&old_access));
    let mut c = s.config.clone();
    c.creds_file = Some(file.clone());
    // Expired on the server, not in the file: the 403 path is the client's; here we age the file.
    let mut aged = first.clone();
    aged["expiresAt"] = json!("2020-01-01T00:00:00.000Z");
    std::fs::write(&file, serde_json::to_vec(&aged).unwrap()).unwrap();
    let auth = Auth::new(Arc::new(c.clone()), reqwest::Client::new());
    let token = auth.access_token().await.unwrap();
    assert_ne!(token.access_token, old_access);
    assert_eq!(
        s.sim.count("/token"),
        2,
        "one device poll that succeeded + one refresh"
    );
    let refresh_call = s
        .sim
        .log()
        .into_iter()
        .rev()
        .find(|e| e.path == "/token")
        .unwrap();
    let body = refresh_call.body;
    assert_eq!(body["grantType"], "refresh_token");
    assert_eq!(body["clientId"], first["clientId"]);
    let now = read(&file);
    assert_ne!(now["refreshToken"], old_refresh.as_str(), "rotation saved");
    assert_eq!(mode(&file), 0o600);

    // Dead refresh token: one clear error, one call, no loop.
    let current_refresh = now["refreshToken"].as_str().unwrap().to_string();
    assert!(s.sim.revoke_refresh_token(&current_refresh));
    let mut dead = now.clone();
    dead["expiresAt"] = json!("2020-01-01T00:00:00.000Z");
    std::fs::write(&file, serde_json::to_vec(&dead).unwrap()).unwrap();
    let auth = Auth::new(Arc::new(c), reqwest::Client::new());
    let calls_before = s.sim.count("/token");
    for _ in 0..5 {
        let e = auth.access_token().await.unwrap_err();
        assert_eq!(e.message, DEAD_CREDENTIALS);
    }
    assert_eq!(s.sim.count("/token"), calls_before + 1, "no refresh storm");
    assert!(!auth.status().healthy);
}
