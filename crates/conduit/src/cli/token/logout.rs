//! `conduit token logout`: revoke the sign-in at its server (RFC 7009: the refresh token, then
//! the access token), then delete the stored tokens and the profile. The local deletion
//! happens even when the server cannot be reached; the command then warns and exits 0.

use super::lock;
use super::oauth::Client;
use super::profile::{self, Files, Mode, Profile};
use super::secret::{self, Secrets};
use crate::cli::output::{note, warn};
use crate::cli::{Outcome, Paths};

pub fn run(paths: &Paths, name: &str) -> Outcome {
    let files = Files::new(paths, name);
    let _lock = lock::exclusive(&files)?;
    let profile = match Profile::load(&files) {
        Ok(Some(p)) => p,
        Ok(None) => {
            lock::clear_failed(&files);
            note(format!("Not signed in (profile {name}): nothing to do."));
            return crate::cli::ok();
        }
        Err(e) => {
            // Damaged: which store it named is unknown; remove what is on disk.
            warn(format!("{e:#}"));
            profile::remove(&files.secret())?;
            profile::remove(&files.profile())?;
            lock::clear_failed(&files);
            note(format!("Removed the damaged profile {name}."));
            return crate::cli::ok();
        }
    };
    let stored = match secret::read(profile.store, &files) {
        Ok(s) => s,
        Err(e) => {
            warn(format!("{e:#}"));
            None
        }
    };
    let revoked = match &stored {
        Some(s) => match revoke(&profile, s) {
            Ok(()) => true,
            Err(e) => {
                warn(format!(
                    "the sign-in was not revoked at {}: {e:#}; the tokens are deleted here all \
                     the same, and the sign-in ends there when its refresh token expires",
                    profile.place()
                ));
                false
            }
        },
        None => false,
    };
    secret::delete(profile.store, &files)?;
    profile::remove(&files.profile())?;
    lock::clear_failed(&files);
    let how = if revoked {
        "revoked the sign-in and deleted the tokens"
    } else {
        "deleted the tokens"
    };
    note(format!(
        "Signed out of {} (profile {name}): {how}.",
        profile.place()
    ));
    crate::cli::ok()
}

/// Revoke the refresh token, then (gateway mode) the access token: each ends the sign-in.
fn revoke(profile: &Profile, stored: &Secrets) -> anyhow::Result<()> {
    let Some(endpoint) = &profile.revocation_endpoint else {
        anyhow::bail!("it names no revocation endpoint");
    };
    let client = Client::new(profile.place(), profile.ca_cert.as_deref())?;
    if let Some(rt) = &stored.refresh_token {
        client.revoke(endpoint, rt, "refresh_token", &profile.client_id)?;
    }
    // IdP mode keeps the ID token, which is not revocable.
    if profile.mode == Mode::Gateway {
        client.revoke(
            endpoint,
            &stored.access_token,
            "access_token",
            &profile.client_id,
        )?;
    }
    Ok(())
}
