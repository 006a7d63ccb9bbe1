//! Team mode (`conduit serve --team`): the same proxy path with callers authenticated from the
//! team store instead of the one key file, plus the admin API. Where things live:
//! - `cache.rs`: every credential and user in memory, the hot-path lookup → [`Principal`];
//! - `sync.rs`: the owned task that keeps the cache current (NOTIFY + 1 s version poll);
//! - `guard.rs`: the `/v1` guard (authenticate, check budgets, admit under the rate limits,
//!   strip credentials, hand the request a ledger meter);
//! - `limit/`: RPM, TPM and concurrent streams per key, user and team, counted across instances;
//! - `spend/`: the ledger, budgets, threshold notices and budget headers;
//! - `api/`: `/auth/*`, `/admin/*`, `/me/*` handlers (thin) and their wire shapes;
//! - `auth.rs`: the bearer tiers (key, JWT: the gateway's own or an IdP's, session);
//! - `oidc/`: identity providers (discovery, JWKS, validation, provisioning);
//! - `oauth/`: the gateway's own authorization server (Claude Code's device-flow sign-in);
//! - `web/`: browser pages (portal sign-in, `/device`, the CLI sign-in, setup scripts);
//! - `wire.rs`: what every door shares (Unix time, secret digests, random secrets, forms, the
//!   client address);
//! - `bootstrap.rs`, `password.rs`: the first admin, argon2id;
//! - `serve.rs`: wiring the store, the task and the router.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod guard;
pub mod iplimit;
pub mod limit;
pub mod oauth;
pub mod oidc;
pub mod origin;
pub mod password;
pub mod portal;
pub mod ready;
pub mod serve;
pub mod signin;
pub mod spend;
pub mod sync;
pub mod web;
pub mod wire;

use conduit_store::{CredentialKind, Role};

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A virtual key (`sk-proxy-…`).
    Key,
    /// A session token (`/auth/login`, the portal cookie, the CLI sign-in).
    Session,
    /// An access token the gateway signed (Claude Code's gateway sign-in).
    GatewayToken,
    /// A JWT from a configured identity provider.
    IdpToken,
}

impl From<CredentialKind> for PrincipalKind {
    fn from(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::Key => PrincipalKind::Key,
            CredentialKind::Session => PrincipalKind::Session,
        }
    }
}

/// Who is calling, as the cache knows them: what a handler or the access log may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub credential_id: String,
    pub kind: PrincipalKind,
    /// `None` for a key made without an owner.
    pub user_id: Option<String>,
    pub subject: Option<String>,
    pub team_id: Option<String>,
    /// A key without an owner acts as a member.
    pub role: Role,
    pub rate_limit_rpm: Option<i64>,
}

impl Principal {
    /// Who to write in the audit log for this caller's writes, from address `ip`.
    pub fn actor(&self, ip: Option<String>) -> conduit_store::Actor {
        conduit_store::Actor {
            name: format!("user:{}", self.subject.as_deref().unwrap_or("?")),
            user_id: self.user_id.clone(),
            ip,
        }
    }
}
