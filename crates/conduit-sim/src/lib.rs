//! conduit-sim: a faithful simulator of the Kiro chat service, AWS SSO OIDC, the Kiro desktop
//! auth service, the Amazon Bedrock runtime and the Anthropic Messages API, for tests. See `docs/simulator.md` for the HTTP contract.

mod accounts;
pub mod anthropic;
pub mod arn;
pub mod bedrock;
pub mod catalog;
mod chat;
pub mod config;
mod control;
pub mod errors;
pub mod frames;
mod idp;
mod messages;
mod mgmt;
pub mod model;
mod oidc;
mod reasoning;
mod rules;
mod schema;
mod server;
mod state;
mod stats;
mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use catalog::{ModelInfo, TokenLimits};
pub use config::{ConfigPatch, ProfileArnPolicy, SimConfig};
pub use control::AccountUpdate;
pub use messages::faults::{BedrockFault, FaultKind, FaultService};
pub use model::{
    Account, AccountKind, ExceptionStep, HttpError, LogEntry, Match, Profile, RawEvent, Rule, Step,
    ToolUseStep,
};
pub use oidc::BUILDER_ID_START_URL;
pub use rules::{DEFAULT_REASONING, DEFAULT_TEXT};
pub use stats::SimStats;

use state::{DeviceStatus, Shared};

/// Entry point: `Sim::start(SimConfig::default()).await?`.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Bind `config.host:config.port` (loopback, free port by default) and serve in a task.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind((config.host, config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        shared.with(|s| s.base_url = format!("http://{addr}"));
        let app = server::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!("conduit-sim: cannot set TCP_NODELAY: {e}");
            }
        });
        let listener = stats::CountingListener {
            inner: listener,
            stats: shared.stats.clone(),
        };
        // Owned by the handle: dropping or shutting down the handle stops the server.
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("conduit-sim server stopped: {e}");
            }
        });
        Ok(SimHandle {
            shared,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server (in-flight streams finish first).
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` — the base URL of all three services.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/region/{region}`: the Bedrock runtime endpoint of that region.
    pub fn bedrock_endpoint(&self, region: &str) -> String {
        format!("{}/region/{region}", self.base_url())
    }

    /// `http://127.0.0.1:PORT/anthropic`: the Anthropic API base URL (`/v1/messages` below it).
    pub fn anthropic_base_url(&self) -> String {
        format!("{}/anthropic", self.base_url())
    }

    /// `http://127.0.0.1:PORT/region/{region}/aws-external-anthropic`: Claude Platform on AWS.
    pub fn aws_external_anthropic_url(&self, region: &str) -> String {
        format!("{}/region/{region}/aws-external-anthropic", self.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Register an account (tokens become valid immediately).
    pub fn add_account(&self, account: Account) {
        self.shared.with(|s| {
            s.add_account(account);
        });
    }

    /// Add a rule; returns its id (given or generated `rule-N`).
    pub fn add_rule(&self, rule: Rule) -> String {
        self.shared.with(|s| s.add_rule(rule))
    }

    /// Inject a Bedrock (or, with `service: anthropic`, Anthropic API) fault
    /// (`POST /_sim/bedrock/faults`); `reset()` clears them.
    pub fn add_bedrock_fault(&self, fault: BedrockFault) {
        self.shared.with(|s| s.add_fault(fault));
    }

    /// Bedrock and Anthropic calls logged so far (`service` = `bedrock` or `anthropic`).
    pub fn messages_log(&self, service: &str) -> Vec<LogEntry> {
        self.log()
            .into_iter()
            .filter(|e| e.service.as_deref() == Some(service))
            .collect()
    }

    /// Rules still active (used-up `times` rules are gone).
    pub fn rules(&self) -> Vec<Rule> {
        self.shared
            .with(|s| s.rules.iter().map(|r| r.rule.clone()).collect())
    }

    /// Every service request received so far, in arrival order.
    pub fn log(&self) -> Vec<LogEntry> {
        self.shared.with(|s| s.log_sorted())
    }

    /// How many logged requests hit this path (e.g. `/refreshToken`, `/token`).
    pub fn count(&self, path: &str) -> usize {
        self.log().iter().filter(|e| e.path == path).count()
    }

    /// How many chat requests (either binding) were received.
    pub fn chat_count(&self) -> usize {
        self.log()
            .iter()
            .filter(|e| {
                e.path == "/generateAssistantResponse"
                    || e.target.as_deref()
                        == Some("AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
            })
            .count()
    }

    /// Open connections, in-flight responses and refresh calls (`GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.shared.stats.snapshot()
    }

    /// Clear rules, log, counters, Bedrock/Anthropic faults and the prompt cache; accounts are kept.
    pub fn reset(&self) {
        self.shared.with(state::State::reset);
    }

    /// Change runtime settings (profileArn policy, device interval, ...).
    pub fn configure(&self, patch: ConfigPatch) {
        self.shared.with(|s| s.config.apply(patch));
    }

    /// Set account flags (suspended, risk_limited, quota_exhausted, overage_exhausted) on the
    /// account owning `update.access_token` or `update.refresh_token`; false if none.
    pub fn update_account(&self, update: AccountUpdate) -> bool {
        self.shared.with(|s| control::update_account(s, &update))
    }

    /// Credits charged so far to the account owning `token` (access or refresh).
    pub fn credits(&self, token: &str) -> Option<f64> {
        self.shared.with(|s| {
            let idx = s.account_of_token(token)?;
            s.accounts.get(idx).map(|a| a.credits)
        })
    }

    /// Add a catalogue entry, or replace the one with its `model_id` (`POST /_sim/models`).
    pub fn add_model(&self, model: ModelInfo) {
        self.shared.with(|s| s.config.upsert_model(model));
    }

    /// Remove a catalogue entry; false if there was none (`DELETE /_sim/models/{id}`).
    pub fn remove_model(&self, model_id: &str) -> bool {
        self.shared.with(|s| {
            let before = s.config.models.len();
            s.config.models.retain(|m| m.model_id != model_id);
            s.config.models.len() != before
        })
    }

    /// Expire an access token now; false if unknown.
    pub fn expire_access_token(&self, token: &str) -> bool {
        self.shared.with(|s| s.expire_access(token))
    }

    /// Make a refresh token dead (`invalid_grant`); false if unknown.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.shared.with(|s| s.revoke_refresh(token))
    }

    /// Approve the pending device authorisation with this user code; false if none.
    pub fn approve_device(&self, user_code: &str) -> bool {
        control::set_device(&self.shared, user_code, |d| {
            d.status = DeviceStatus::Approved;
        })
    }

    /// Deny the pending device authorisation with this user code; false if none.
    pub fn deny_device(&self, user_code: &str) -> bool {
        control::set_device(&self.shared, user_code, |d| {
            d.status = DeviceStatus::Denied;
        })
    }

    /// The current tokens of the account that owns `token` (access or refresh, even if dead),
    /// as `(access_token, refresh_token)` — handy after the gateway rotated them.
    pub fn current_tokens(&self, token: &str) -> Option<(String, String)> {
        self.shared.with(|s| {
            let idx = s.account_of_token(token)?;
            let a = s.accounts.get(idx)?;
            Some((a.spec.access_token.clone(), a.spec.refresh_token.clone()))
        })
    }

    /// Stop accepting, let in-flight responses finish (at most 5 s), then stop.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
