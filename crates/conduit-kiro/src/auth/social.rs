//! Kiro social sign-in without the IDE (Google, GitHub; spec §9.3): PKCE S256 with a loopback
//! redirect. conduit listens on `127.0.0.1:{port}`, the person signs in at
//! `{CONDUIT_KIRO_SIGNIN_URL}/signin?…` (default app.kiro.dev), the browser comes back to
//! `/oauth/callback` (or `/signin/callback`) with `code` and `state`, and the code is exchanged
//! at the Kiro auth service (`POST {CONDUIT_KIRO_AUTH_URL}/oauth/token`). The listener is a
//! few lines of HTTP/1.1 by hand: it answers one browser request, nothing else needs a server.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::kind::{AccountKind, SOCIAL_DEFAULT_ARN};
use super::registry::{AccountEntry, AccountSource};
use super::signin::{save_account, NewAccount};
use super::store::SecretBackend;
use crate::config::{KiroConfig, DEFAULT_REGION};

/// How long the person has to finish signing in.
pub const SIGNIN_TIMEOUT: Duration = Duration::from_secs(600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The identity provider of a social sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialProvider {
    Google,
    Github,
}

impl SocialProvider {
    pub fn parse(s: &str) -> Option<SocialProvider> {
        match s.to_ascii_lowercase().as_str() {
            "google" => Some(SocialProvider::Google),
            "github" => Some(SocialProvider::Github),
            _ => None,
        }
    }

    /// As the Kiro IDE writes it (`provider` in the token file).
    pub fn as_str(self) -> &'static str {
        match self {
            SocialProvider::Google => "Google",
            SocialProvider::Github => "Github",
        }
    }
}

/// Tokens from a completed social sign-in.
#[derive(Clone)]
pub struct SocialTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: OffsetDateTime,
    pub profile_arn: Option<String>,
}

/// One sign-in attempt: the loopback listener and the PKCE secrets.
pub struct SocialLogin {
    listener: TcpListener,
    /// Where the person signs in (print it, open it).
    pub url: String,
    pub provider: SocialProvider,
    state: String,
    verifier: String,
    redirect_uri: String,
    token_url: String,
}

impl SocialLogin {
    /// Binds the loopback listener and builds the sign-in URL.
    pub async fn start(config: &KiroConfig, provider: SocialProvider) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1 for the sign-in callback: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot read the callback port: {e}"))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}");
        let verifier = random_token(48);
        let state = random_token(24);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut url = reqwest::Url::parse(&format!("{}/signin", config.signin_url()))
            .map_err(|e| format!("CONDUIT_KIRO_SIGNIN_URL is not a URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("redirect_from", "KiroIDE")
            .append_pair("login_option", &provider.as_str().to_ascii_lowercase());
        Ok(SocialLogin {
            listener,
            url: url.to_string(),
            provider,
            state,
            verifier,
            redirect_uri,
            token_url: format!("{}/oauth/token", config.auth_url_for(DEFAULT_REGION)),
        })
    }

    /// Waits for the browser to come back (up to `timeout`), then exchanges the code.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<SocialTokens, String> {
        let code = tokio::time::timeout(timeout, self.callback())
            .await
            .map_err(|_| {
                format!(
                    "the sign-in did not finish within {} minutes: run `conduit login --social {}` again",
                    timeout.as_secs() / 60,
                    self.provider.as_str().to_ascii_lowercase()
                )
            })??;
        self.exchange(http, &code).await
    }

    /// Answers browser requests until one carries our `state` and a `code`.
    async fn callback(&self) -> Result<String, String> {
        loop {
            let (mut stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| format!("the sign-in callback listener failed: {e}"))?;
            let Some(target) = read_request_target(&mut stream).await else {
                continue;
            };
            let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else {
                respond(&mut stream, 400, "Bad request.").await;
                continue;
            };
            if !matches!(url.path(), "/oauth/callback" | "/signin/callback") {
                respond(&mut stream, 404, "Not found.").await;
                continue;
            }
            let q = |k: &str| {
                url.query_pairs()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.into_owned())
            };
            if q("state").as_deref() != Some(self.state.as_str()) {
                respond(&mut stream, 400, "This sign-in link is not the one conduit started; run `conduit login --social` again.").await;
                continue;
            }
            if let Some(err) = q("error") {
                respond(&mut stream, 400, "The sign-in was not completed.").await;
                return Err(format!(
                    "the sign-in was refused ({err}): run `conduit login --social` again"
                ));
            }
            let Some(code) = q("code") else {
                respond(&mut stream, 400, "The sign-in answer carried no code.").await;
                continue;
            };
            respond(
                &mut stream,
                200,
                "Signed in to Kiro. You can close this tab and go back to the terminal.",
            )
            .await;
            return Ok(code);
        }
    }

    async fn exchange(&self, http: &reqwest::Client, code: &str) -> Result<SocialTokens, String> {
        let body = json!({"code": code, "code_verifier": self.verifier, "redirect_uri": self.redirect_uri});
        let response = http
            .post(&self.token_url)
            .json(&body)
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("cannot reach the Kiro auth service ({}): check CONDUIT_KIRO_AUTH_URL and your network", e.without_url()))?;
        let status = response.status();
        let v: Value = response.json().await.unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        if !status.is_success() {
            let why = s("error_description")
                .or_else(|| s("error"))
                .or_else(|| s("message"));
            return Err(format!(
                "the Kiro auth service refused the sign-in code (HTTP {}: {}): run `conduit login --social` again",
                status.as_u16(),
                why.unwrap_or_else(|| "no reason given".into())
            ));
        }
        let (Some(access_token), Some(refresh_token)) = (s("accessToken"), s("refreshToken"))
        else {
            return Err("the Kiro auth service answered without tokens".into());
        };
        let expires_in = v.get("expiresIn").and_then(Value::as_i64).unwrap_or(3600);
        Ok(SocialTokens {
            access_token,
            refresh_token,
            expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(expires_in),
            profile_arn: s("profileArn"),
        })
    }
}

/// Saves a social sign-in as an account. The whole credential set of an earlier sign-in with
/// the same provider is replaced.
pub fn save(
    data_dir: &Path,
    backend: SecretBackend,
    provider: SocialProvider,
    tokens: &SocialTokens,
) -> Result<AccountEntry, String> {
    let account = NewAccount {
        source: AccountSource::Social,
        label: format!("Kiro {} sign-in", provider.as_str()),
        access_token: Some(tokens.access_token.clone()),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: Some(tokens.expires_at),
        profile_arn: Some(
            tokens
                .profile_arn
                .clone()
                .unwrap_or_else(|| SOCIAL_DEFAULT_ARN.to_string()),
        ),
        region: DEFAULT_REGION.to_string(),
        auth_method: "social",
        kind: AccountKind::Social,
        provider: Some(provider.as_str().to_string()),
        client_id: None,
        client_secret: None,
        client_secret_expires_at: None,
        start_url: None,
        extra: serde_json::Map::new(),
    };
    save_account(data_dir, backend, &account)
}

fn random_token(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(raw)
}

/// The request target of one HTTP/1.1 request (`GET /oauth/callback?… HTTP/1.1`).
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = tokio::time::timeout(HTTP_TIMEOUT, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut parts = text.lines().next()?.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET" && target.starts_with('/')).then(|| target.to_string())
}

async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!("<!doctype html><meta charset=utf-8><title>conduit</title><p>{text}</p>\n");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
