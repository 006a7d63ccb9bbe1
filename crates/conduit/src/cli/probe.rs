//! Asking a running gateway how it is: `GET /health` (and an authenticated `GET /v1/models`
//! for `doctor`), from synchronous CLI code.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// What `/health` said.
#[derive(Debug, Clone)]
pub struct Health {
    pub http_status: u16,
    pub body: Value,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.http_status == 200 && self.body["status"] == "ok"
    }
}

pub struct Probe {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Probe {
    pub fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { runtime, http })
    }

    /// `GET {base}/health`; `Err` when nothing answers.
    pub fn health(&self, base: &str) -> anyhow::Result<Health> {
        self.runtime.block_on(async {
            let r = self
                .http
                .get(format!("{base}/health"))
                .send()
                .await
                .with_context(|| format!("no answer from {base}/health"))?;
            let http_status = r.status().as_u16();
            let body = r.json().await.unwrap_or(Value::Null);
            Ok(Health { http_status, body })
        })
    }

    /// The context window the gateway gives requests for `model` (`GET {base}/v1/models/{model}`).
    pub fn model_window(&self, base: &str, key: &str, model: &str) -> anyhow::Result<u32> {
        let id = model.replace('[', "%5B").replace(']', "%5D");
        self.runtime.block_on(async {
            let r = self
                .http
                .get(format!("{base}/v1/models/{id}"))
                // A cold catalogue is fetched from Kiro first (at most 8 s).
                .timeout(Duration::from_secs(10))
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .send()
                .await
                .with_context(|| format!("no answer from {base}/v1/models/{id}"))?
                .error_for_status()?;
            let body: Value = r.json().await?;
            body["context_window"]
                .as_u64()
                .and_then(|w| u32::try_from(w).ok())
                .with_context(|| format!("no context_window in {body}"))
        })
    }

    /// The status of an authenticated `GET {base}/v1/models` with `key`.
    pub fn models_status(&self, base: &str, key: &str) -> anyhow::Result<u16> {
        self.runtime.block_on(async {
            let r = self
                .http
                .get(format!("{base}/v1/models"))
                .header("x-api-key", key)
                .send()
                .await
                .with_context(|| format!("no answer from {base}/v1/models"))?;
            Ok(r.status().as_u16())
        })
    }
}
