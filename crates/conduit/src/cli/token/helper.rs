//! `conduit token`: print a token for the profile, following docs/design-token.md §2's table.
//!
//! | state | action |
//! |---|---|
//! | access token with more than the margin left | print it |
//! | otherwise, a refresh token | lock; re-read; refresh; store; print |
//! | no usable token, interactive | browser sign-in, print |
//! | no usable token, not interactive | one line on stderr, exit 1 |
//!
//! stdout carries the token and a newline, nothing else; a failure is one stderr line.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{anyhow, bail};

use super::flow::{self, Target};
use super::lock;
use super::oauth::{Client, Metadata, TokenError};
use super::profile::{profile_flag, Files, Profile};
use super::secret::{self, Secrets};
use super::{fresh, save, show_time, unix_now};
use crate::cli::{exit, output, Paths};

/// Run the helper: the token on stdout (exit 0), or one line on stderr (exit 1).
pub fn run(paths: &Paths, name: &str) -> ExitCode {
    let printed = token(paths, name).and_then(|t| {
        output::raw(format!("{t}\n").as_bytes()).map_err(|e| anyhow!("cannot write stdout: {e}"))
    });
    match printed {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!(
                "conduit token: {}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::from(exit::FAILED)
        }
    }
}

/// Why nobody can sign in here; `None` when someone can.
fn not_interactive(env: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
    if env("CI").is_some() {
        return Some("CI is set");
    }
    if !super::browser::available(env) {
        return Some("no browser: neither BROWSER nor DISPLAY is set");
    }
    let terminal = std::io::stdin().is_terminal()
        || std::io::stderr().is_terminal()
        || std::fs::File::open("/dev/tty").is_ok();
    if !terminal {
        return Some("no terminal");
    }
    None
}

fn token(paths: &Paths, name: &str) -> anyhow::Result<String> {
    super::validate_profile_name(name)?;
    let files = Files::new(paths, name);
    let flag = profile_flag(name);
    let Some(profile) = Profile::load(&files)? else {
        bail!("not signed in (no profile `{name}`): run `conduit token login --gateway URL{flag}`");
    };
    let stored = secret::read(profile.store, &files)?;
    if let Some(s) = &stored {
        if fresh(s, profile.lifetime_secs, unix_now()) {
            return Ok(s.access_token.clone());
        }
    }
    let env = |k: &str| crate::cli::env(k);
    let has_refresh = stored.as_ref().is_some_and(|s| s.refresh_token.is_some());
    if !has_refresh {
        if let Some(why) = not_interactive(&env) {
            bail!("{}", no_token(&profile, name, stored.as_ref(), None, why));
        }
    }

    let _lock = lock::exclusive(&files)?;
    // Another helper may have refreshed, or someone signed in, while this one waited.
    let Some(mut profile) = Profile::load(&files)? else {
        bail!("not signed in (no profile `{name}`): run `conduit token login --gateway URL{flag}`");
    };
    let stored = secret::read(profile.store, &files)?;
    let mut ended = None;
    if let Some(s) = &stored {
        if fresh(s, profile.lifetime_secs, unix_now()) {
            return Ok(s.access_token.clone());
        }
        if s.refresh_token.is_some() {
            match refresh(&mut profile, &files, s)? {
                Refreshed::Token(t) => return Ok(t),
                Refreshed::Ended(why) => ended = Some(why),
            }
        }
    }
    let stored = if ended.is_some() { None } else { stored };
    if let Some(why) = not_interactive(&env) {
        bail!(
            "{}",
            no_token(&profile, name, stored.as_ref(), ended.as_deref(), why)
        );
    }
    if lock::failed_recently(&files, SystemTime::now()) {
        bail!(
            "a browser sign-in to {} failed less than {} s ago; not opening another: run \
             `conduit token login{flag}`",
            profile.place(),
            lock::COOL_DOWN.as_secs()
        );
    }
    if let Some(why) = &ended {
        output::note(format!("conduit token: {why}; signing in again"));
    }
    match sign_in(&mut profile, &files) {
        Ok(t) => {
            lock::clear_failed(&files);
            Ok(t)
        }
        Err(e) => {
            lock::mark_failed(&files, &format!("{e:#}"));
            Err(e)
        }
    }
}

/// The one line of a helper that has no token to give and cannot sign in.
fn no_token(
    profile: &Profile,
    name: &str,
    stored: Option<&Secrets>,
    ended: Option<&str>,
    why_not_here: &str,
) -> String {
    let place = profile.place();
    let state = match (ended, stored) {
        (Some(ended), _) => format!("the sign-in to {place} ended ({ended})"),
        (None, Some(s)) => format!(
            "the token for {place} expired at {} and there is no refresh token",
            show_time(s.expires_at)
        ),
        (None, None) => format!("not signed in to {place}"),
    };
    format!(
        "{state}: run `conduit token login{}` (no browser sign-in here: {why_not_here})",
        profile_flag(name)
    )
}

enum Refreshed {
    Token(String),
    /// The sign-in is over (its tokens are deleted): why.
    Ended(String),
}

/// The refresh grant, under the lock. Never sends a refresh token twice.
fn refresh(profile: &mut Profile, files: &Files, stored: &Secrets) -> anyhow::Result<Refreshed> {
    let client = Client::new(profile.place(), profile.ca_cert.as_deref())?;
    let mut current = stored.clone();
    let mut reread = false;
    while let Some(refresh_token) = current.refresh_token.clone() {
        let result = flow::refresh(
            &client,
            profile.mode,
            &profile.token_endpoint,
            &profile.client_id,
            &refresh_token,
        );
        let e = match result {
            Ok(issued) => {
                save(files, profile, &issued)?;
                return Ok(Refreshed::Token(issued.secrets.access_token));
            }
            Err(e) => e,
        };
        if e.is_invalid_grant(400) && !reread {
            // Spent: another process won the race and should have stored the new pair.
            reread = true;
            if let Some(winner) = secret::read(profile.store, files)? {
                if fresh(&winner, profile.lifetime_secs, unix_now()) {
                    return Ok(Refreshed::Token(winner.access_token));
                }
                if winner.refresh_token.is_some() && winner.refresh_token != current.refresh_token {
                    current = winner;
                    continue;
                }
            }
        }
        if e.is_invalid_grant(401) || e.is_invalid_grant(400) {
            secret::delete(profile.store, files)?;
            return Ok(Refreshed::Ended(format!(
                "the refresh token was refused: {e}"
            )));
        }
        return match e {
            TokenError::Unavailable(why) if unix_now() < current.expires_at => {
                output::warn(format!(
                    "conduit token: cannot refresh the token ({why}); printing the current one, \
                     valid until {}",
                    show_time(current.expires_at)
                ));
                Ok(Refreshed::Token(current.access_token))
            }
            TokenError::Unavailable(why) => Err(anyhow!(
                "the token for {} expired and cannot be refreshed now: {why}",
                profile.place()
            )),
            refused => Err(anyhow!(
                "{} refused the refresh: {refused}; run `conduit token login{}`",
                profile.token_endpoint,
                profile_flag(&files.name)
            )),
        };
    }
    Ok(Refreshed::Ended("no refresh token".into()))
}

/// The browser sign-in for the saved profile (its endpoints as saved); the token.
fn sign_in(profile: &mut Profile, files: &Files) -> anyhow::Result<String> {
    let target = Target {
        mode: profile.mode,
        gateway: profile.gateway.clone(),
        client_id: profile.client_id.clone(),
        meta: Metadata {
            issuer: profile.issuer.clone(),
            authorization_endpoint: profile.authorization_endpoint.clone(),
            token_endpoint: profile.token_endpoint.clone(),
            revocation_endpoint: profile.revocation_endpoint.clone(),
        },
        ca_cert: profile.ca_cert.clone(),
    };
    let client = target.client()?;
    let issued = flow::sign_in(&client, &target, false)?;
    if save(files, profile, &issued).is_err() {
        // The recorded store no longer takes them (a keyring gone): the first one that does.
        let forced = crate::cli::env(secret::STORE_VAR);
        let candidates = secret::candidates(forced.as_deref())?;
        let (store, _) = secret::store_first(&candidates, files, &issued.secrets)?;
        profile.store = store;
        save(files, profile, &issued)?;
    }
    Ok(issued.secrets.access_token)
}
