//! Test harness for the Kiro client and auth stories: a simulator on port 0, a token file in a
//! fresh temp dir, and a `KiroUpstream` pointed at both.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use conduit_core::{collect, Block, Error, Message, Request};
use conduit_kiro::config::KiroConfig;
use conduit_kiro::upstream::KiroUpstream;
use conduit_sim::{Account, Sim, SimConfig, SimHandle};
use serde_json::{json, Value};

pub const ARN: &str = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";
pub const ACCESS: &str = "access-token-1";
pub const REFRESH: &str = "refresh-token-1";

pub struct Harness {
    pub sim: SimHandle,
    pub dir: PathBuf,
    pub creds_file: PathBuf,
}

/// Whether the token file starts out valid or already expired.
#[derive(Clone, Copy, PartialEq)]
pub enum Token {
    Valid,
    Expired,
}

impl Harness {
    pub async fn start(token: Token) -> Harness {
        let sim = Sim::start(SimConfig::default()).await.unwrap();
        sim.add_account(Account::new(ACCESS, REFRESH).with_profile_arn(ARN));
        let dir = std::env::temp_dir().join(format!(
            "conduit-kiro-it-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let creds_file = dir.join("kiro-auth-token.json");
        let expires_at = match token {
            Token::Valid => "2099-01-01T00:00:00.000Z",
            Token::Expired => "2020-01-01T00:00:00.000Z",
        };
        let file = json!({
            "accessToken": ACCESS, "refreshToken": REFRESH, "expiresAt": expires_at,
            "profileArn": ARN, "authMethod": "social", "provider": "Github", "region": "us-east-1",
            "someFutureKey": {"kept": true}
        });
        std::fs::write(&creds_file, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
        Harness {
            sim,
            dir,
            creds_file,
        }
    }

    /// A config pointing at the sim, with fast retries and a short first-token timeout.
    pub fn config(&self) -> KiroConfig {
        let mut c = KiroConfig::for_base_url(&self.sim.base_url(), self.dir.clone());
        c.creds_file = Some(self.creds_file.clone());
        c.retry.base = Duration::from_millis(5);
        c.retry.cap = Duration::from_millis(20);
        c.first_token_timeout = Duration::from_millis(400);
        c
    }

    pub fn upstream(&self) -> KiroUpstream {
        KiroUpstream::new(self.config()).unwrap()
    }

    pub fn token_file(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.creds_file).unwrap()).unwrap()
    }

    pub fn refreshes(&self) -> usize {
        self.sim.count("/refreshToken")
    }

    pub fn chats(&self) -> usize {
        self.sim.chat_count()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn request(text: &str) -> Request {
    Request {
        model: "claude-sonnet-4-5".into(),
        messages: vec![Message::user_text(text)],
        max_tokens: Some(1024),
        stream: true,
        ..Request::default()
    }
}

/// Sends and collects the whole answer's text.
pub async fn ask(upstream: &KiroUpstream, text: &str) -> Result<String, Error> {
    let stream = upstream.send(request(text)).await?;
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
