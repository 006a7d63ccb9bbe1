//! The gateway's own authorization server (Claude Code's gateway sign-in) over a real SQLite
//! team store, through `routes::router`: `flow.rs` the device flow, refresh and revocation;
//! `settings.rs` the access token on `/v1`, managed settings and the OTLP sinks. Device codes
//! are approved with the store call `/device` makes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod flow;
mod settings;
mod signer;
mod support;
#[path = "../team_support/mod.rs"]
mod team_support;
