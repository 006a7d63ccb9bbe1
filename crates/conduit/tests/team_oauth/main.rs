//! The gateway's own authorization server (Claude Code's gateway sign-in, `conduit token
//! login`'s) over a real SQLite team store, through `routes::router`: `flow.rs` the device
//! flow, refresh and revocation; `authorize.rs` the authorization code + PKCE sign-in in a
//! cookie-keeping browser (`team_web_support`);
//! `settings.rs` the access token on `/v1`, managed settings and the OTLP sinks. Device codes
//! are approved with the store call `/device` makes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod flow;
#[path = "../oidc_support/mod.rs"]
mod oidc_support;
mod settings;
mod signer;
mod support;
#[path = "../team_support/mod.rs"]
mod team_support;
#[path = "../team_web_support/mod.rs"]
mod team_web_support;
