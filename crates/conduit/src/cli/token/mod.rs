//! `conduit token`: Claude Code's `apiKeyHelper` (and Codex's token command) for a team
//! gateway, with the tokens in the OS keychain (docs/design-token.md §2).
//!
//! - `helper.rs`: `conduit token`, the table (cache hit, refresh, browser sign-in, fail fast).
//! - `login.rs`, `logout.rs`, `status.rs`: the subcommands.
//! - `flow.rs`: the browser sign-in (code + PKCE, `pkce.rs`; loopback redirect, `loopback.rs`;
//!   opening the browser, `browser.rs`); `oauth.rs`: the HTTP calls.
//! - `profile.rs`: `tokens/<profile>.json`, no secrets; `secret.rs`: the tokens (keychain,
//!   kernel keyring, file); `lock.rs`: the profile's flock and the failure marker.
//!
//! **Invariant:** a cache hit (`conduit token` with a fresh stored token) builds no async
//! runtime, HTTP client, TLS config or tracing subscriber and touches no network: the profile
//! file, one keychain read, the token on stdout. `main.rs` dispatches here first.

mod browser;
mod flow;
mod helper;
mod lock;
mod login;
mod logout;
mod loopback;
mod oauth;
mod pkce;
pub mod profile;
pub mod secret;
mod status;

use clap::{Args, Subcommand};

use crate::cli::{Outcome, Paths};
use profile::{Files, Profile};
use secret::Secrets;

/// The profile used without `--profile` and `$CONDUIT_TOKEN_PROFILE`.
pub const DEFAULT_PROFILE: &str = "default";
/// The environment's profile.
pub const PROFILE_VAR: &str = "CONDUIT_TOKEN_PROFILE";
/// The most a token is refreshed ahead of its expiry.
const MAX_MARGIN_SECS: i64 = 300;

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The token profile, one per gateway [default: $CONDUIT_TOKEN_PROFILE, else `default`].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Sign in through the browser (authorization code + PKCE) and keep the tokens in the OS
    /// keychain.
    Login(login::LoginArgs),
    /// Revoke the sign-in at the gateway and delete the stored tokens.
    Logout,
    /// Who is signed in, to which gateway, until when, and where the tokens are kept (exit 1:
    /// not signed in).
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// Run `conduit token …`.
pub fn run(paths: &Paths, args: TokenArgs) -> Outcome {
    let name = profile_name(args.profile.as_deref(), &|k| crate::cli::env(k));
    match args.action {
        None => Ok(helper::run(paths, &name)),
        Some(action) => {
            validate_profile_name(&name)?;
            match action {
                Action::Login(a) => login::run(paths, &name, &a),
                Action::Logout => logout::run(paths, &name),
                Action::Status { json } => status::run(paths, &name, json),
            }
        }
    }
}

/// `--profile`, else `$CONDUIT_TOKEN_PROFILE`, else `default` (not yet validated).
fn profile_name(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    flag.map(str::to_string)
        .or_else(|| env(PROFILE_VAR))
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string())
}

/// Refuse a profile name that is not `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_profile_name(name: &str) -> anyhow::Result<()> {
    profile::validate_name(name)
}

/// The stored profile's token lifetime (`expires_in` of its last token answer); `None` when the
/// profile is not signed in.
pub fn profile_lifetime(paths: &Paths, profile: &str) -> anyhow::Result<Option<u64>> {
    validate_profile_name(profile)?;
    let files = Files::new(paths, profile);
    Ok(Profile::load(&files)?
        .map(|p| p.lifetime_secs)
        .filter(|l| *l > 0))
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How long before its expiry a token is refreshed: `min(300 s, lifetime / 10)`.
fn margin(lifetime_secs: u64) -> i64 {
    i64::try_from(lifetime_secs / 10)
        .unwrap_or(i64::MAX)
        .min(MAX_MARGIN_SECS)
}

/// Whether the stored access token has more than the margin left at `now`.
fn fresh(secrets: &Secrets, lifetime_secs: u64, now: i64) -> bool {
    secrets.expires_at.saturating_sub(now) > margin(lifetime_secs)
}

/// Store what a sign-in or refresh gave in the profile's store, and its expiry in the profile.
fn save(files: &Files, profile: &mut Profile, issued: &flow::Issued) -> anyhow::Result<()> {
    secret::write(profile.store, files, &issued.secrets)?;
    profile.expires_at = issued.secrets.expires_at;
    profile.lifetime_secs = issued.lifetime_secs;
    if issued.user.is_some() {
        profile.user.clone_from(&issued.user);
    }
    profile.save(files)
}

/// A time for people: RFC 3339 in UTC.
fn show_time(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_tenth_of_the_lifetime_up_to_five_minutes() {
        let cases = [
            (0, 0),
            (9, 0),
            (60, 6),
            (600, 60),
            (3000, 300),
            (3600, 300),
            (86_400, 300),
            (u64::MAX, 300),
        ];
        for (lifetime, want) in cases {
            assert_eq!(margin(lifetime), want, "lifetime {lifetime}");
        }
    }

    #[test]
    fn fresh_means_more_than_the_margin_left() {
        let at = |expires_at| Secrets {
            access_token: "t".into(),
            refresh_token: None,
            expires_at,
        };
        let now = 10_000;
        let cases = [
            (now + 301, 3600, true),
            (now + 300, 3600, false),
            (now + 61, 600, true),
            (now + 60, 600, false),
            (now + 1, 0, true),
            (now, 0, false),
            (now - 5, 3600, false),
            (i64::MIN, 3600, false),
        ];
        for (expires_at, lifetime, want) in cases {
            assert_eq!(
                fresh(&at(expires_at), lifetime, now),
                want,
                "{expires_at} {lifetime}"
            );
        }
    }

    #[test]
    fn profile_names() {
        let long = "a".repeat(64);
        for ok in ["default", "team-a", "a.b_c-1", "A", long.as_str()] {
            assert!(validate_profile_name(ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(65);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "é",
            "a:b",
            too_long.as_str(),
        ] {
            let e = validate_profile_name(bad).unwrap_err().to_string();
            assert!(e.contains("not a profile name"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_profile_comes_from_the_flag_then_the_environment() {
        let none = |_: &str| None;
        let set = |k: &str| (k == PROFILE_VAR).then(|| "from-env".to_string());
        assert_eq!(profile_name(None, &none), "default");
        assert_eq!(profile_name(None, &set), "from-env");
        assert_eq!(profile_name(Some("flag"), &set), "flag");
    }
}
