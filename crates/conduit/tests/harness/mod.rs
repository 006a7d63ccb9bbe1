//! A small harness for gateway stories: a simulator on port 0, a gateway on port 0 pointed at
//! it, and a typed way to script the simulator and call the gateway.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conduit::apikey::ApiKey;
use conduit::config::DebugMode;
use conduit::state::{Access, AppState, KiroAccounts, OpenAiState, RelaySettings, Upstreams};
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "sk-test-gateway-key";
pub const PROFILE_ARN: &str = "arn:aws:codewhisperer:us-east-1:123456789012:profile/TESTPROFILE";

pub struct Gateway {
    pub url: String,
    pub sim_url: String,
    pub http: reqwest::Client,
    pub home: PathBuf,
    pub access_token: String,
    /// Access tokens of `Options::extra_accounts`, in order.
    pub extra_tokens: Vec<String>,
    _sim: conduit_sim::SimHandle,
    shutdown: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

pub struct Options {
    pub env: HashMap<&'static str, String>,
    pub ping_interval: Duration,
    /// Token expiry written to the creds file, seconds from now (negative: already expired).
    pub expires_in: i64,
    /// More Kiro accounts: each is registered in the sim (these fields merged into the
    /// `/_sim/accounts` body) and, with the first, in the account registry, with
    /// `ACCOUNT_SYSTEM=true`. Their tokens are `Gateway::extra_tokens`.
    pub extra_accounts: Vec<Value>,
    /// Adjusts the Kiro config after the environment is read (settings with no env key,
    /// like the retry policy or refresh backoffs).
    pub kiro: Option<fn(&mut KiroConfig)>,
    /// A config file (TOML; `{sim}` stands for the simulator's URL): the gateway is wired from
    /// it as `conduit serve --config` would be, with the Kiro and AWS settings of `env`.
    pub config: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env: HashMap::new(),
            ping_interval: Duration::from_secs(5),
            expires_in: 3600,
            extra_accounts: Vec::new(),
            kiro: None,
            config: None,
        }
    }
}

pub async fn start() -> Gateway {
    start_with(Options::default()).await
}

pub async fn start_with(opts: Options) -> Gateway {
    let sim = conduit_sim::Sim::start(conduit_sim::SimConfig::default())
        .await
        .expect("simulator starts");
    let sim_url = sim.base_url().to_string();
    let http = reqwest::Client::new();
    let n = uuid::Uuid::new_v4().simple().to_string();
    let access_token = format!("access-{n}");
    let refresh_token = format!("refresh-{n}-{}", "r".repeat(100));
    let status = http
        .post(format!("{sim_url}/_sim/accounts"))
        .json(
            &json!({"access_token": access_token, "refresh_token": refresh_token,
            "expires_in": opts.expires_in.max(1), "profile_arn": PROFILE_ARN, "kind": "social"}),
        )
        .send()
        .await
        .expect("sim account")
        .status();
    assert!(status.is_success(), "sim refused the account: {status}");

    let home = std::env::temp_dir().join(format!("conduit-test-{n}"));
    std::fs::create_dir_all(home.join("data")).unwrap();
    let creds = home.join("kiro-auth-token.json");
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(opts.expires_in);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::fs::write(
        &creds,
        json!({"accessToken": access_token, "refreshToken": refresh_token, "expiresAt": expires,
            "profileArn": PROFILE_ARN, "authMethod": "social", "region": "us-east-1",
            "provider": "Github"})
        .to_string(),
    )
    .unwrap();

    let mut env: HashMap<&str, String> = HashMap::from([
        ("CONDUIT_KIRO_API_URL", sim_url.clone()),
        ("CONDUIT_KIRO_AUTH_URL", sim_url.clone()),
        ("CONDUIT_SSO_OIDC_URL", sim_url.clone()),
        ("KIRO_CREDS_FILE", creds.display().to_string()),
        ("FIRST_TOKEN_TIMEOUT", "2".into()),
        ("FIRST_TOKEN_MAX_RETRIES", "1".into()),
    ]);
    let extra_tokens =
        register_extra_accounts(&http, &sim_url, &home, &creds, &opts.extra_accounts).await;
    if !extra_tokens.is_empty() {
        env.insert("ACCOUNT_SYSTEM", "true".into());
    }
    env.extend(opts.env);
    let (upstreams, kiro) = match &opts.config {
        None => {
            let mut kiro =
                KiroConfig::from_env(|k| env.get(k).cloned(), home.join("data")).unwrap();
            if let Some(adjust) = opts.kiro {
                adjust(&mut kiro);
            }
            let upstream = Arc::new(KiroUpstream::new(kiro).unwrap());
            (
                Upstreams::single(upstream.clone()).unwrap(),
                KiroAccounts(Some(upstream)),
            )
        }
        Some(text) => {
            let file = conduit::config::file::parse(
                &home.join("conduit.toml"),
                &text.replace("{sim}", &sim_url),
            )
            .unwrap();
            let home_s = home.display().to_string();
            let gw = conduit::config::from_env(
                &|k| match k {
                    "CONDUIT_HOME" => Some(home_s.clone()),
                    _ => env.get(k).cloned(),
                },
                None,
                None,
            )
            .unwrap();
            let wired = conduit::wiring::wire(&gw, Some(&file), &|k| env.get(k).cloned())
                .await
                .unwrap();
            (wired.upstreams, wired.kiro)
        }
    };
    let state = AppState {
        upstreams,
        kiro,
        relay: RelaySettings {
            debug_mode: DebugMode::Off,
            ping_interval: opts.ping_interval,
        },
        access: Access {
            key: Arc::new(ApiKey::new(KEY).unwrap()),
        },
        openai: OpenAiState::default(),
        team: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(conduit::server::run(
        listener,
        state,
        shutdown.clone(),
        Duration::from_secs(1),
    ));
    Gateway {
        url,
        sim_url,
        http,
        home,
        access_token,
        extra_tokens,
        _sim: sim,
        shutdown,
    }
}

/// Registers `extra` accounts in the sim, writes their token files and the account registry
/// (the main account first) in `home/data`. Returns their access tokens.
async fn register_extra_accounts(
    http: &reqwest::Client,
    sim_url: &str,
    home: &std::path::Path,
    main_creds: &std::path::Path,
    extra: &[Value],
) -> Vec<String> {
    if extra.is_empty() {
        return Vec::new();
    }
    let data = home.join("data");
    let mut entries = vec![
        json!({"id": "acc_00000000", "label": "main", "source": "ide",
        "token_file": main_creds, "profile_arn": PROFILE_ARN,
        "added_at": "2026-01-01T00:00:00Z", "enabled": true}),
    ];
    let mut tokens = Vec::new();
    for (i, spec) in extra.iter().enumerate() {
        let n = i + 1;
        let access = format!("access-extra{n}-{}", uuid::Uuid::new_v4().simple());
        let refresh = format!("refresh-extra{n}-{}", "r".repeat(100));
        let arn = format!("arn:aws:codewhisperer:us-east-1:12345678901{n}:profile/EXTRA{n}");
        let mut body = json!({"access_token": access, "refresh_token": refresh,
            "expires_in": 3600, "profile_arn": arn, "kind": "social"});
        if let (Some(b), Some(s)) = (body.as_object_mut(), spec.as_object()) {
            b.extend(s.clone());
        }
        let r = http
            .post(format!("{sim_url}/_sim/accounts"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "sim refused the account");
        let file = data.join(format!("accounts/acc_0000000{n}.json"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            json!({"accessToken": access, "refreshToken": refresh,
                "expiresAt": "2099-01-01T00:00:00.000Z", "profileArn": arn,
                "authMethod": "social", "region": "us-east-1", "provider": "Github"})
            .to_string(),
        )
        .unwrap();
        entries.push(
            json!({"id": format!("acc_0000000{n}"), "label": format!("extra {n}"),
            "source": "device", "token_file": file, "profile_arn": arn,
            "added_at": "2026-01-01T00:00:00Z", "enabled": true}),
        );
        tokens.push(access);
    }
    std::fs::write(
        data.join("credentials.json"),
        json!({"version": 1, "accounts": entries}).to_string(),
    )
    .unwrap();
    tokens
}

impl Gateway {
    /// The in-process simulator, for its typed handle (`stats()`, `configure(..)`, ...).
    pub fn sim(&self) -> &conduit_sim::SimHandle {
        &self._sim
    }

    /// Add a simulator rule (docs/simulator.md).
    pub async fn rule(&self, rule: Value) {
        let r = self
            .http
            .post(format!("{}/_sim/rules", self.sim_url))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "sim refused rule: {}",
            r.text().await.unwrap()
        );
    }

    /// The simulator's request log.
    pub async fn sim_log(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_sim/log", self.sim_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match v {
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("entries").or_else(|| o.remove("log")) {
                Some(Value::Array(a)) => a,
                _ => vec![],
            },
            _ => vec![],
        }
    }

    pub async fn chat_requests(&self) -> Vec<Value> {
        self.sim_log()
            .await
            .into_iter()
            .filter(|e| {
                e["path"].as_str() == Some("/generateAssistantResponse")
                    || e["target"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("GenerateAssistantResponse"))
            })
            .collect()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .header("x-api-key", KEY)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
    }

    /// POST a Messages request and return (status, JSON body).
    pub async fn messages(&self, body: Value) -> (u16, Value) {
        let r = self.post("/v1/messages").json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST a streaming Messages request and return (status, the SSE events as (name, data)).
    pub async fn stream(&self, body: Value) -> (u16, Vec<(String, Value)>) {
        let r = self.post("/v1/messages").json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, parse_sse(&text))
    }
}

pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|chunk| !chunk.trim().is_empty())
        .map(|chunk| {
            let mut name = String::new();
            let mut data = String::new();
            for line in chunk.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

pub fn user(text: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}]})
}
