//! Every account kind against the simulator's profile-ARN rules (spec §9.2, §9.3): a Builder ID,
//! an IAM Identity Center account (its ARN discovered in the SSO region's API region), a social
//! sign-in and a Microsoft Entra ID account each reach a streamed answer; a missing ARN, a
//! wrong-region ARN and a placeholder an IdC account must not send give messages that say what
//! was sent, for which kind of account, and how to fix it. API calls go to
//! `{sim}/region/{region}`, so the log shows which region each call went to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use conduit_core::{collect, Block, Error, ErrorKind, Message, Request};
use conduit_kiro::auth::kind::BUILDER_ID_PLACEHOLDER_ARN;
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use conduit_sim::{
    Account, AccountKind, ConfigPatch, Profile, Sim, SimConfig, SimHandle, DEFAULT_TEXT,
};
use serde_json::{json, Value};

const EU_ARN: &str = "arn:aws:codewhisperer:eu-central-1:222222222222:profile/EUPROFILE";
const US_ARN: &str = "arn:aws:codewhisperer:us-east-1:333333333333:profile/USPROFILE";
const REFRESH: &str = "refresh-kinds-rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr";

struct Story {
    sim: SimHandle,
    dir: PathBuf,
    file: PathBuf,
}

impl Story {
    async fn start(config: SimConfig, account: Account, token_file: Value) -> Story {
        let sim = Sim::start(config).await.unwrap();
        sim.add_account(account);
        let dir =
            std::env::temp_dir().join(format!("conduit-kinds-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token.json");
        std::fs::write(&file, token_file.to_string()).unwrap();
        Story { sim, dir, file }
    }

    /// `{region}` in the API URL unless `fixed_api_url`.
    fn upstream(&self, fixed_api_url: bool) -> KiroUpstream {
        let base = self.sim.base_url();
        let api = if fixed_api_url {
            base.clone()
        } else {
            format!("{base}/region/{{region}}")
        };
        let env = |k: &str| match k {
            "CONDUIT_KIRO_API_URL" => Some(api.clone()),
            "CONDUIT_KIRO_AUTH_URL" | "CONDUIT_SSO_OIDC_URL" | "CONDUIT_IDP_URL" => {
                Some(base.clone())
            }
            "ACCOUNT_SYSTEM" => Some("false".into()),
            _ => None,
        };
        let mut c = KiroConfig::from_env(env, self.dir.clone()).unwrap();
        c.creds_file = Some(self.file.clone());
        c.retry.base = Duration::from_millis(5);
        c.retry.cap = Duration::from_millis(20);
        KiroUpstream::new(c).unwrap()
    }

    fn chats(&self) -> Vec<conduit_sim::LogEntry> {
        self.sim
            .log()
            .into_iter()
            .filter(|e| e.path == "/generateAssistantResponse")
            .collect()
    }

    fn profile_calls(&self) -> Vec<(Option<String>, u16)> {
        self.sim
            .log()
            .into_iter()
            .filter(|e| {
                e.target
                    .as_deref()
                    .is_some_and(|t| t.ends_with("ListAvailableProfiles"))
            })
            .map(|e| (e.region.clone(), e.status))
            .collect()
    }

    fn token_file(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.file).unwrap()).unwrap()
    }
}

impl Drop for Story {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn ask(up: &KiroUpstream) -> Result<String, Error> {
    let request = Request {
        model: "claude-sonnet-4-5".into(),
        messages: vec![Message::user_text("hello")],
        max_tokens: Some(1024),
        stream: true,
        ..Request::default()
    };
    let response = collect(up.send(request).await?).await?;
    Ok(response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect())
}

fn oidc_file(provider: &str, region: &str, arn: Option<&str>) -> Value {
    let mut v = json!({
        "accessToken": "access-kinds", "refreshToken": REFRESH,
        "expiresAt": "2099-01-01T00:00:00.000Z", "authMethod": "IdC", "provider": provider,
        "clientId": "client-kinds", "clientSecret": "secret-kinds", "region": region
    });
    if let Some(a) = arn {
        v["profileArn"] = json!(a);
    }
    v
}

fn oidc_account(kind: AccountKind, profiles: &[&str]) -> Account {
    Account::new("access-kinds", REFRESH)
        .with_kind(kind)
        .with_client("client-kinds", "secret-kinds")
        .with_profiles(profiles.iter().map(|a| Profile::new(*a)).collect())
}

#[tokio::test]
async fn a_builder_id_sends_the_placeholder_to_us_east_1() {
    let s = Story::start(
        SimConfig::default(),
        oidc_account(AccountKind::BuilderId, &[]),
        oidc_file("BuilderId", "us-east-1", None),
    )
    .await;
    let up = s.upstream(false);
    assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT);
    let chats = s.chats();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].body["profileArn"], BUILDER_ID_PLACEHOLDER_ARN);
    assert_eq!(chats[0].region.as_deref(), Some("us-east-1"));
    assert!(
        s.profile_calls().is_empty(),
        "a Builder ID has no profile to look up"
    );
    let usage = s
        .sim
        .log()
        .into_iter()
        .find(|e| e.path == "/getUsageLimits");
    if let Some(u) = usage {
        assert!(
            !u.query.unwrap_or_default().contains("profileArn"),
            "usage calls carry no ARN"
        );
    }
}

#[tokio::test]
async fn an_idc_account_discovers_its_arn_in_the_sso_regions_api_region_and_sends_it_there() {
    let s = Story::start(
        SimConfig::default(),
        oidc_account(AccountKind::Idc, &[EU_ARN]),
        oidc_file("Enterprise", "eu-west-1", None),
    )
    .await;
    let up = s.upstream(false);
    assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT);
    assert_eq!(
        s.profile_calls(),
        vec![(Some("eu-central-1".to_string()), 200)],
        "the SSO region's API region is asked first, and it answers"
    );
    let chats = s.chats();
    assert_eq!(chats[0].body["profileArn"], EU_ARN);
    assert_eq!(
        chats[0].region.as_deref(),
        Some("eu-central-1"),
        "the API region is the ARN's"
    );
    assert_eq!(
        s.token_file()["profileArn"],
        EU_ARN,
        "the discovered ARN is saved"
    );

    // A usage query goes to the ARN's region and carries no ARN (a real one there → 400).
    let usage = up.usage().await;
    assert!(usage["accounts"][0]["usage"].is_object(), "{usage}");
    let u = s
        .sim
        .log()
        .into_iter()
        .find(|e| e.path == "/getUsageLimits")
        .unwrap();
    assert_eq!(u.region.as_deref(), Some("eu-central-1"));
    assert!(!u.query.unwrap_or_default().contains("profileArn"));
}

#[tokio::test]
async fn an_idc_account_asks_the_other_region_when_the_first_lists_nothing() {
    let s = Story::start(
        SimConfig::default(),
        oidc_account(AccountKind::Idc, &[US_ARN]),
        oidc_file("Enterprise", "eu-west-1", None),
    )
    .await;
    let up = s.upstream(false);
    assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT);
    assert_eq!(
        s.profile_calls(),
        vec![
            (Some("eu-central-1".to_string()), 200),
            (Some("us-east-1".to_string()), 200)
        ]
    );
    assert_eq!(s.chats()[0].body["profileArn"], US_ARN);
}

#[tokio::test]
async fn a_social_sign_in_sends_its_own_arn() {
    let file = json!({"accessToken": "access-kinds", "refreshToken": REFRESH,
        "expiresAt": "2099-01-01T00:00:00.000Z", "authMethod": "social", "provider": "Google"});
    let s = Story::start(
        SimConfig::default(),
        Account::new("access-kinds", REFRESH).with_kind(AccountKind::Social),
        file,
    )
    .await;
    let up = s.upstream(false);
    assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT);
    assert_eq!(
        s.chats()[0].body["profileArn"],
        conduit_kiro::auth::kind::SOCIAL_DEFAULT_ARN
    );
}

#[tokio::test]
async fn an_entra_id_account_refreshes_at_its_idp_and_sends_its_token_type() {
    let file = json!({"accountKind": "external_idp", "accessToken": "stale",
        "refreshToken": REFRESH, "expiresAt": "2020-01-01T00:00:00.000Z",
        "clientId": "entra-public-client", "tenantId": "contoso"});
    let s = Story::start(
        SimConfig::default(),
        Account::new("access-kinds", REFRESH)
            .with_kind(AccountKind::ExternalIdp)
            .with_tenant("contoso")
            .with_profiles(vec![Profile::new(US_ARN)]),
        file,
    )
    .await;
    s.sim.configure(ConfigPatch {
        idp_rotate_refresh: Some(false),
        ..ConfigPatch::default()
    });
    let up = s.upstream(false);
    assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT);
    let log = s.sim.log();
    let refresh = log
        .iter()
        .find(|e| e.path == "/contoso/oauth2/v2.0/token")
        .expect("refreshed at the tenant's token endpoint");
    assert_eq!(refresh.status, 200);
    assert!(
        refresh
            .body
            .as_str()
            .unwrap_or_default()
            .contains("grant_type=refresh_token"),
        "form-encoded: {}",
        refresh.body
    );
    let chat = &s.chats()[0];
    assert_eq!(
        chat.headers.get("tokentype").map(String::as_str),
        Some("EXTERNAL_IDP")
    );
    assert_eq!(chat.body["profileArn"], US_ARN);
    assert_eq!(
        s.profile_calls(),
        vec![(Some("us-east-1".to_string()), 200)]
    );
    let saved = s.token_file();
    assert_eq!(
        saved["refreshToken"], REFRESH,
        "no new refresh token came: the old one is kept"
    );
    assert_ne!(saved["accessToken"], "stale");
}

#[tokio::test]
async fn a_missing_arn_says_none_was_sent_for_an_idc_account_and_how_to_fix_it() {
    let s = Story::start(
        SimConfig::default(),
        oidc_account(AccountKind::Idc, &[]),
        oidc_file("Enterprise", "us-east-1", None),
    )
    .await;
    let up = s.upstream(false);
    let e = ask(&up).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Credentials);
    for needle in [
        "profileArn is required",
        "sent no profile ARN",
        "IAM Identity Center",
        "PROFILE_ARN",
        "conduit login",
    ] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
    assert_eq!(s.chats().len(), 1, "not retried");
}

#[tokio::test]
async fn a_wrong_region_arn_names_the_arn_and_the_region() {
    let config = SimConfig {
        root_region: Some("us-east-1".into()),
        ..SimConfig::default()
    };
    let s = Story::start(
        config,
        oidc_account(AccountKind::Idc, &[EU_ARN]),
        oidc_file("Enterprise", "eu-west-1", Some(EU_ARN)),
    )
    .await;
    let up = s.upstream(true);
    let e = ask(&up).await.unwrap_err();
    for needle in [
        "Improperly formed",
        EU_ARN,
        "eu-central-1",
        "{region}",
        "PROFILE_ARN",
    ] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
    assert_eq!(s.chats().len(), 1, "not retried");
}

#[tokio::test]
async fn the_builder_id_placeholder_refused_for_an_idc_account_says_so() {
    let s = Story::start(
        SimConfig::default(),
        oidc_account(AccountKind::Idc, &[US_ARN]),
        oidc_file("BuilderId", "us-east-1", None),
    )
    .await;
    let up = s.upstream(false);
    let e = ask(&up).await.unwrap_err();
    for needle in [
        "not authorized",
        BUILDER_ID_PLACEHOLDER_ARN,
        "Builder ID",
        "CONDUIT_SSO_START_URL",
        "PROFILE_ARN",
    ] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
}

#[tokio::test]
async fn a_throttled_refresh_is_waited_out_not_taken_for_a_dead_token() {
    // (kind, token file, sim account, the token endpoint's path): all three token endpoints.
    let expired = "2020-01-01T00:00:00.000Z";
    let cases = vec![
        (
            "social",
            json!({"accessToken": "stale", "refreshToken": REFRESH, "expiresAt": expired,
                "authMethod": "social"}),
            Account::new("access-kinds", REFRESH).with_kind(AccountKind::Social),
            "/refreshToken",
        ),
        (
            "builder id (OIDC)",
            {
                let mut f = oidc_file("BuilderId", "us-east-1", None);
                f["expiresAt"] = json!(expired);
                f
            },
            oidc_account(AccountKind::BuilderId, &[]),
            "/token",
        ),
        (
            "entra id (IdP)",
            json!({"accountKind": "external_idp", "accessToken": "stale", "refreshToken": REFRESH,
                "expiresAt": expired, "clientId": "c", "tenantId": "t1", "profileArn": US_ARN}),
            Account::new("access-kinds", REFRESH)
                .with_kind(AccountKind::ExternalIdp)
                .with_profiles(vec![Profile::new(US_ARN)]),
            "/t1/oauth2/v2.0/token",
        ),
    ];
    for (name, file, account, path) in cases {
        let s = Story::start(
            SimConfig {
                refresh_throttle: 1,
                ..SimConfig::default()
            },
            account,
            file,
        )
        .await;
        let up = s.upstream(false);
        assert_eq!(ask(&up).await.unwrap(), DEFAULT_TEXT, "{name}");
        let refreshes: Vec<u16> = s
            .sim
            .log()
            .iter()
            .filter(|e| e.path == path)
            .map(|e| e.status)
            .collect();
        assert_eq!(
            refreshes,
            vec![429, 200],
            "{name}: Retry-After honoured, then refreshed"
        );
        assert!(up.credential_status().healthy, "{name}");
    }
}
