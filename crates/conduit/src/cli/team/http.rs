//! Calling the team gateway's HTTP API from synchronous CLI code: a reqwest client that trusts
//! the session's (or `--ca-cert`'s) certificate, `Authorization: Bearer` with the saved
//! session, and the API's error message (Anthropic envelope) as the error.

use std::time::Duration;

use anyhow::{anyhow, Context};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::session::Session;
use crate::cli::Paths;

pub struct Api {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// The base URL as given, checked, without a trailing slash.
pub fn normalize_url(url: &str) -> anyhow::Result<String> {
    let base = url.trim().trim_end_matches('/').to_string();
    let parsed = reqwest::Url::parse(&base)
        .map_err(|e| anyhow!("{url:?} is not a URL ({e}): give e.g. https://gw.example:8765"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(anyhow!(
            "{url:?} is not an http(s) URL: give e.g. https://gw.example:8765"
        ));
    }
    Ok(base)
}

impl Api {
    /// A client for `base`, trusting `ca_pem` (PEM certificates) besides the usual roots.
    pub fn new(base: &str, ca_pem: Option<&str>, token: Option<String>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| anyhow!("the CA certificate is not valid PEM: {e}"))?;
            if certs.is_empty() {
                return Err(anyhow!("the CA certificate file holds no PEM certificate"));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        // A gateway on this machine is never reached through the user's HTTP proxy.
        let loopback = reqwest::Url::parse(base).ok().is_some_and(|u| {
            matches!(
                u.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
            )
        });
        if loopback {
            builder = builder.no_proxy();
        }
        let http = builder.build().context("cannot build the HTTP client")?;
        Ok(Self {
            runtime,
            http,
            base: base.to_string(),
            token,
        })
    }

    /// A client for the saved session.
    pub fn from_session(paths: &Paths) -> anyhow::Result<Self> {
        Self::for_session(&Session::load(paths)?)
    }

    pub fn for_session(s: &Session) -> anyhow::Result<Self> {
        Self::new(&s.url, s.ca_cert.as_deref(), Some(s.token.clone()))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        self.call(Method::POST, path, body)
    }

    pub fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::PUT, path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::PATCH, path, Some(body))
    }

    /// `method {base}{path}`: the JSON body of a 2xx answer, else the API's message.
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        self.runtime.block_on(async {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(token) = &self.token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .with_context(|| format!("{method} {url}: the answer broke off"))?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(value);
            }
            Err(self.refusal(status, &value, &text))
        })
    }

    fn refusal(&self, status: StatusCode, body: &Value, text: &str) -> anyhow::Error {
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    status.to_string()
                } else {
                    format!("{status}: {}", t.chars().take(300).collect::<String>())
                }
            });
        if status == StatusCode::UNAUTHORIZED && self.token.is_some() {
            return anyhow!(
                "{message} (HTTP 401): the session is no longer valid; run `conduit team login {}` \
                 again",
                self.base
            );
        }
        match body["error"]["type"].as_str() {
            Some(kind) => anyhow!("{message} (HTTP {}, {kind})", status.as_u16()),
            None => anyhow!("{message} (HTTP {})", status.as_u16()),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        let chain = error_chain(e);
        let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
            "; a self-signed gateway? pass its certificate with `conduit team login URL --ca-cert \
             cert.pem`"
        } else {
            ""
        };
        anyhow!(
            "cannot reach the team gateway at {}: {chain}{hint}",
            self.base
        )
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
