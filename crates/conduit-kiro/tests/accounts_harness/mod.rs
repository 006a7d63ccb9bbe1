//! Harness for multi-account stories: a simulator with N accounts, their token files and the
//! account registry in a fresh data dir, and a `KiroUpstream` on a clock the test moves.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conduit_core::{collect, Block, Error, Message, Request};
use conduit_kiro::accounts::ManualClock;
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use conduit_sim::{Account, HttpError, Match, Rule, Sim, SimConfig, SimHandle};
use serde_json::json;

pub struct Accounts {
    pub sim: SimHandle,
    pub dir: PathBuf,
    pub clock: Arc<ManualClock>,
    pub n: usize,
}

pub fn access(i: usize) -> String {
    format!("access-acc{i}")
}

pub fn id(i: usize) -> String {
    format!("acc_0000000{i}")
}

pub fn arn(i: usize) -> String {
    format!("arn:aws:codewhisperer:us-east-1:69947594138{i}:profile/PROFILE{i}")
}

impl Accounts {
    /// `n` accounts in the registry, `ACCOUNT_SYSTEM=true`.
    pub async fn start(n: usize) -> Accounts {
        let sim = Sim::start(SimConfig::default()).await.unwrap();
        let dir = std::env::temp_dir().join(format!(
            "conduit-accounts-it-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut entries = Vec::new();
        for i in 0..n {
            let refresh = format!("refresh-acc{i}-{}", "r".repeat(100));
            sim.add_account(Account::new(access(i), refresh.clone()).with_profile_arn(arn(i)));
            let token_file = if i == 0 {
                dir.join("kiro-auth-token.json")
            } else {
                dir.join(format!("accounts/{}.json", id(i)))
            };
            std::fs::create_dir_all(token_file.parent().unwrap()).unwrap();
            let file = json!({
                "accessToken": access(i), "refreshToken": refresh,
                "expiresAt": "2099-01-01T00:00:00.000Z", "profileArn": arn(i),
                "authMethod": "social", "provider": "Github", "region": "us-east-1"
            });
            std::fs::write(&token_file, file.to_string()).unwrap();
            entries.push(json!({
                "id": id(i), "label": format!("account {i}"), "source": "device",
                "token_file": token_file, "profile_arn": arn(i),
                "added_at": "2026-01-01T00:00:00Z", "enabled": true
            }));
        }
        std::fs::write(
            dir.join("credentials.json"),
            json!({"version": 1, "accounts": entries}).to_string(),
        )
        .unwrap();
        Accounts {
            sim,
            dir,
            clock: Arc::new(ManualClock::default()),
            n,
        }
    }

    /// Fast client retries; cooldown base 60 s (tests move the clock, they do not sleep).
    pub fn config(&self) -> KiroConfig {
        let base = self.sim.base_url();
        let env = |k: &str| match k {
            "ACCOUNT_SYSTEM" => Some("true".to_string()),
            "CONDUIT_ACCOUNT_COOLDOWN_SECS" => Some("60".to_string()),
            "CONDUIT_ACCOUNT_QUOTA_COOLDOWN_SECS" => Some("3600".to_string()),
            "CONDUIT_KIRO_API_URL" | "CONDUIT_KIRO_AUTH_URL" | "CONDUIT_SSO_OIDC_URL" => {
                Some(base.clone())
            }
            "KIRO_CREDS_FILE" => Some(self.dir.join("kiro-auth-token.json").display().to_string()),
            _ => None,
        };
        let mut c = KiroConfig::from_env(env, self.dir.clone()).unwrap();
        c.retry.base = Duration::from_millis(5);
        c.retry.cap = Duration::from_millis(20);
        c.first_token_timeout = Duration::from_millis(800);
        c
    }

    pub fn upstream(&self) -> KiroUpstream {
        KiroUpstream::with_clock(self.config(), self.clock.clone()).unwrap()
    }

    /// An error for every chat call of account `i`.
    pub fn fail_account(&self, i: usize, error: HttpError) -> String {
        self.sim.add_rule(Rule::error(error).when(Match {
            access_token: Some(access(i)),
            ..Match::default()
        }))
    }

    /// Which account served each chat call so far, in order.
    pub fn chat_accounts(&self) -> Vec<usize> {
        self.sim
            .log()
            .iter()
            .filter(|e| e.path == "/generateAssistantResponse")
            .filter_map(|e| {
                let bearer = e.bearer()?;
                (0..self.n).find(|&i| access(i) == bearer)
            })
            .collect()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("state.json")).unwrap()).unwrap()
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn request(session: Option<&str>, text: &str) -> Request {
    let mut r = Request {
        model: "claude-sonnet-4-5".into(),
        messages: vec![Message::user_text(text)],
        max_tokens: Some(1024),
        stream: true,
        ..Request::default()
    };
    r.meta.session_id = session.map(str::to_string);
    r
}

/// Sends and collects the answer's text.
pub async fn ask(upstream: &KiroUpstream, session: Option<&str>) -> Result<String, Error> {
    let stream = upstream.send(request(session, "hello")).await?;
    let response = collect(stream).await?;
    Ok(response
        .content
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect())
}
