//! The sim's shared mutable state: config, accounts and tokens, OIDC clients and device codes,
//! rules and the request log. One mutex, never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;

use crate::config::SimConfig;
use crate::model::{Account, LogEntry, Rule};

/// A registered account and what the sim counted for it.
#[derive(Debug)]
pub(crate) struct AccountState {
    pub spec: Account,
    /// Chat requests answered with a stream (getUsageLimits `currentUsage`).
    pub chat_requests: u64,
    /// Credits charged by the `meteringEvent`s sent to this account.
    pub credits: f64,
}

#[derive(Debug)]
pub(crate) struct AccessEntry {
    pub account: usize,
    pub expires_at: Instant,
}

#[derive(Debug)]
pub(crate) struct RefreshEntry {
    pub account: usize,
    pub live: bool,
}

#[derive(Debug)]
pub(crate) struct ClientReg {
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Consumed,
}

/// Overrides for the account a device-flow approval creates.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct ApproveOptions {
    #[serde(default)]
    pub profiles: Option<Vec<crate::model::Profile>>,
    #[serde(default)]
    pub quota_exhausted: bool,
    /// The kind of the new account (default: from the start URL, `builder_id` or `idc`).
    #[serde(default)]
    pub kind: Option<crate::model::AccountKind>,
}

#[derive(Debug)]
pub(crate) struct DeviceAuth {
    pub user_code: String,
    pub client_id: String,
    pub start_url: String,
    pub status: DeviceStatus,
    pub expires_at: Instant,
    pub interval: u64,
    pub last_poll: Option<Instant>,
    pub approve: ApproveOptions,
}

#[derive(Debug)]
pub(crate) struct RuleState {
    pub rule: Rule,
    pub remaining: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub config: SimConfig,
    pub base_url: String,
    pub accounts: Vec<AccountState>,
    pub access: HashMap<String, AccessEntry>,
    pub refresh: HashMap<String, RefreshEntry>,
    pub clients: HashMap<String, ClientReg>,
    /// Keyed by device code.
    pub devices: HashMap<String, DeviceAuth>,
    pub rules: Vec<RuleState>,
    pub log: Vec<LogEntry>,
    pub next_seq: u64,
    pub next_rule: u64,
    /// The key of the reasoning-signature MAC (random per sim).
    pub mac_key: [u8; 32],
    /// `redactedContent` values the sim has sent (only these may be replayed).
    pub issued_redacted: std::collections::HashSet<String>,
    /// Social sign-in codes waiting for `POST /oauth/token`, keyed by code.
    pub signin_codes: HashMap<String, crate::idp::SigninCode>,
    /// Injected Bedrock / Anthropic faults.
    pub faults: Vec<crate::messages::faults::FaultState>,
    /// Hashes of the prompt prefixes cached so far (Bedrock and Anthropic).
    pub prompt_cache: std::collections::HashSet<[u8; 32]>,
}

impl State {
    /// The account that owns `token`, an access or a refresh token (even an expired or dead one).
    pub fn account_of_token(&self, token: &str) -> Option<usize> {
        self.access
            .get(token)
            .map(|e| e.account)
            .or_else(|| self.refresh.get(token).map(|e| e.account))
    }

    pub fn new(config: SimConfig) -> Self {
        State {
            config,
            base_url: String::new(),
            accounts: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            clients: HashMap::new(),
            devices: HashMap::new(),
            rules: Vec::new(),
            log: Vec::new(),
            next_seq: 0,
            next_rule: 0,
            mac_key: rand::random(),
            issued_redacted: std::collections::HashSet::new(),
            signin_codes: HashMap::new(),
            faults: Vec::new(),
            prompt_cache: std::collections::HashSet::new(),
        }
    }

    /// Clear rules, log and counters; keep accounts, tokens, clients and devices.
    pub fn reset(&mut self) {
        self.rules.clear();
        self.log.clear();
        self.next_seq = 0;
        self.next_rule = 0;
        self.faults.clear();
        self.prompt_cache.clear();
        for a in &mut self.accounts {
            a.chat_requests = 0;
            a.credits = 0.0;
        }
    }

    /// Add a rule, giving it an id if it has none; returns the id.
    pub fn add_rule(&mut self, mut rule: Rule) -> String {
        self.next_rule += 1;
        let id = rule
            .id
            .clone()
            .unwrap_or_else(|| format!("rule-{}", self.next_rule));
        rule.id = Some(id.clone());
        let remaining = rule.times;
        self.rules.push(RuleState { rule, remaining });
        id
    }

    /// Append to the request log, dropping the oldest entries once it holds twice
    /// `config.log_limit` (so it keeps at least the newest `log_limit`).
    pub fn push_log(&mut self, entry: LogEntry) {
        self.log.push(entry);
        if let Some(limit) = self.config.log_limit {
            if self.log.len() >= limit.saturating_mul(2).max(1) {
                self.log.sort_by_key(|e| e.seq);
                let excess = self.log.len() - limit;
                self.log.drain(..excess);
            }
        }
    }

    pub fn log_sorted(&self) -> Vec<LogEntry> {
        let mut out = self.log.clone();
        out.sort_by_key(|e| e.seq);
        out
    }
}

/// The state behind a mutex, shared by handlers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub stats: std::sync::Arc<crate::stats::Stats>,
}

impl Shared {
    pub fn new(config: SimConfig) -> Self {
        Shared {
            state: Mutex::new(State::new(config)),
            stats: std::sync::Arc::default(),
        }
    }

    /// Run `f` with the state locked. A panic in another holder does not poison the sim.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}
