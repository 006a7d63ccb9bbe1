//! Accounts and their tokens: registration, bearer checks, issuing and rotating tokens.

use std::time::Duration;

use axum::http::HeaderMap;
use rand::distr::{Alphanumeric, SampleString};
use tokio::time::Instant;

use crate::errors;
use crate::model::{Account, HttpError};
use crate::state::{AccessEntry, AccountState, ClientReg, RefreshEntry, State};

/// Random ASCII letters and digits.
pub(crate) fn random_alnum(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// Tokens handed out by a login or a refresh.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

impl State {
    /// Register an account and its tokens; returns its index.
    pub fn add_account(&mut self, spec: Account) -> usize {
        let id = self.accounts.len();
        self.access.insert(
            spec.access_token.clone(),
            AccessEntry {
                account: id,
                expires_at: Instant::now() + Duration::from_secs(spec.expires_in),
            },
        );
        self.refresh.insert(
            spec.refresh_token.clone(),
            RefreshEntry {
                account: id,
                live: true,
            },
        );
        if let (Some(cid), Some(secret)) = (&spec.client_id, &spec.client_secret) {
            self.clients.insert(
                cid.clone(),
                ClientReg {
                    secret: secret.clone(),
                },
            );
        }
        self.accounts.push(AccountState {
            spec,
            chat_requests: 0,
            credits: 0.0,
        });
        id
    }

    /// The account of the request's `Authorization: Bearer` token, or 403 if unknown or expired.
    pub fn bearer(&self, headers: &HeaderMap) -> Result<usize, HttpError> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(errors::invalid_bearer)?;
        match self.access.get(token.trim()) {
            Some(e) if Instant::now() < e.expires_at => Ok(e.account),
            _ => Err(errors::invalid_bearer()),
        }
    }

    /// Issue a fresh access/refresh pair for an account. Refresh tokens are ≥ 100 chars
    /// because clients reject shorter ones as truncated (spec §1.4).
    pub fn issue_tokens(&mut self, account: usize, ttl: u64) -> Issued {
        let access_token = format!("aoa{}", random_alnum(60));
        let refresh_token = format!("aor{}", random_alnum(120));
        self.access.insert(
            access_token.clone(),
            AccessEntry {
                account,
                expires_at: Instant::now() + Duration::from_secs(ttl),
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshEntry {
                account,
                live: true,
            },
        );
        if let Some(a) = self.accounts.get_mut(account) {
            a.spec.access_token = access_token.clone();
            a.spec.refresh_token = refresh_token.clone();
        }
        Issued {
            access_token,
            refresh_token,
            expires_in: ttl,
        }
    }

    /// Issue a new access token only (the refresh token stays); returns it and its lifetime.
    pub fn issue_access(&mut self, account: usize) -> (String, u64) {
        let ttl = self
            .accounts
            .get(account)
            .map(|a| a.spec.expires_in)
            .unwrap_or(3600);
        let access_token = format!("aoa{}", random_alnum(60));
        self.access.insert(
            access_token.clone(),
            AccessEntry {
                account,
                expires_at: Instant::now() + Duration::from_secs(ttl),
            },
        );
        if let Some(a) = self.accounts.get_mut(account) {
            a.spec.access_token = access_token.clone();
        }
        (access_token, ttl)
    }

    /// The account of a live refresh token.
    pub fn live_refresh(&self, token: &str) -> Option<usize> {
        self.refresh
            .get(token)
            .filter(|e| e.live)
            .map(|e| e.account)
    }

    /// Rotate: the old refresh token dies, a new pair is issued.
    pub fn rotate(&mut self, old_refresh: &str, account: usize) -> Issued {
        if let Some(e) = self.refresh.get_mut(old_refresh) {
            e.live = false;
        }
        let ttl = self
            .accounts
            .get(account)
            .map(|a| a.spec.expires_in)
            .unwrap_or(3600);
        self.issue_tokens(account, ttl)
    }

    /// Make an access token expired now; false if unknown.
    pub fn expire_access(&mut self, token: &str) -> bool {
        match self.access.get_mut(token) {
            Some(e) => {
                e.expires_at = Instant::now();
                true
            }
            None => false,
        }
    }

    /// Make a refresh token dead; false if unknown.
    pub fn revoke_refresh(&mut self, token: &str) -> bool {
        match self.refresh.get_mut(token) {
            Some(e) => {
                e.live = false;
                true
            }
            None => false,
        }
    }

    /// Check a client id/secret pair (401 `invalid_client` otherwise).
    pub fn check_client(&self, id: &str, secret: &str) -> Result<(), HttpError> {
        match self.clients.get(id) {
            Some(c) if c.secret == secret => Ok(()),
            _ => Err(errors::oidc_invalid_client()),
        }
    }
}
