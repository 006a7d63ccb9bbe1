//! `conduit token login [--gateway URL | --issuer URL --client-id ID] [--ca-cert FILE]
//! [--no-browser]`: discover the authorization server, sign in through the browser, keep the
//! tokens in the first store that works, write the profile, and revoke the sign-in this one
//! replaces. Messages go to stderr, like everything of `conduit token` but the token.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;

use super::flow::{self, Target};
use super::lock;
use super::oauth::{self, Client, CLI_CLIENT_ID};
use super::profile::{profile_flag, Files, Mode, Profile};
use super::secret::{self, StoreKind};
use crate::cli::output::{note, warn};
use crate::cli::{Outcome, Paths};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The team gateway's base URL [default: the profile's].
    #[arg(long, value_name = "URL", conflicts_with_all = ["issuer", "client_id"])]
    pub gateway: Option<String>,
    /// Sign in at this OpenID provider directly (for a gateway's OIDC tier); the helper then
    /// prints the IdP's ID token.
    #[arg(long, value_name = "URL", requires = "client_id")]
    pub issuer: Option<String>,
    /// The IdP's client id for conduit (a public client allowing loopback redirects).
    #[arg(long, value_name = "ID", requires = "issuer")]
    pub client_id: Option<String>,
    /// Trust this PEM certificate for the gateway or IdP (a self-signed one).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not open a browser; print the URL to open.
    #[arg(long)]
    pub no_browser: bool,
}

pub fn run(paths: &Paths, name: &str, args: &LoginArgs) -> Outcome {
    let files = Files::new(paths, name);
    let candidates = secret::candidates(crate::cli::env(secret::STORE_VAR).as_deref())?;
    let _lock = lock::exclusive(&files)?;
    // A damaged profile is replaced, not read.
    let old = Profile::load(&files).ok().flatten();
    let (target, client) = resolve(args, old.as_ref(), name)?;
    let issued = flow::sign_in(&client, &target, args.no_browser)?;
    let user = match &target.gateway {
        Some(gateway) => client
            .me(gateway, &issued.secrets.access_token)
            .ok()
            .as_ref()
            .and_then(flow::who),
        None => issued.user.clone(),
    };
    let old_secrets = old
        .as_ref()
        .and_then(|p| secret::read(p.store, &files).ok().flatten());
    let (store, failures) = secret::store_first(&candidates, &files, &issued.secrets)?;
    let profile = Profile {
        mode: target.mode,
        gateway: target.gateway.clone(),
        issuer: target.meta.issuer.clone(),
        client_id: target.client_id.clone(),
        authorization_endpoint: target.meta.authorization_endpoint.clone(),
        token_endpoint: target.meta.token_endpoint.clone(),
        revocation_endpoint: target.meta.revocation_endpoint.clone(),
        ca_cert: target.ca_cert.clone(),
        store,
        user,
        expires_at: issued.secrets.expires_at,
        lifetime_secs: issued.lifetime_secs,
    };
    profile.save(&files)?;
    lock::clear_failed(&files);
    if let Some(old) = &old {
        if old.store != store {
            let _ = secret::delete(old.store, &files);
        }
        // The sign-in this one replaces ends at its server too.
        let old_refresh = old_secrets.and_then(|s| s.refresh_token);
        if let Some(rt) = old_refresh.filter(|rt| Some(rt) != issued.secrets.refresh_token.as_ref())
        {
            if let Err(e) = revoke_old(old, &rt) {
                warn(format!("the previous sign-in was not revoked: {e:#}"));
            }
        }
    }
    let who = profile
        .user
        .as_deref()
        .map(|u| format!(" as {u}"))
        .unwrap_or_default();
    note(format!(
        "Signed in to {}{who} (profile {name}); the token is valid until {}.",
        profile.place(),
        super::show_time(profile.expires_at)
    ));
    note(format!("Tokens kept in {}.", store.describe()));
    match store {
        StoreKind::File if failures.is_empty() => note(format!(
            "They are in {} (0600), as {} asks.",
            paths.show(&files.secret()),
            secret::STORE_VAR
        )),
        StoreKind::File => warn(format!(
            "no keychain took the tokens ({}); they are in {} (0600, not encrypted)",
            failures.join("; "),
            paths.show(&files.secret())
        )),
        StoreKind::KernelKeyring => {
            note("The kernel keyring forgets them at reboot; `conduit token` then signs in again.")
        }
        _ => {}
    }
    if let Some(gateway) = &profile.gateway {
        note(format!(
            "For Claude Code: `conduit configure-claude --gateway {gateway}{}`",
            profile_flag(name)
        ));
    }
    crate::cli::ok()
}

/// Where this sign-in goes (discovered now), and a client for it.
fn resolve(
    args: &LoginArgs,
    old: Option<&Profile>,
    name: &str,
) -> anyhow::Result<(Target, Client)> {
    let (mode, base, client_id) = match (&args.gateway, &args.issuer) {
        (Some(g), _) => (
            Mode::Gateway,
            oauth::base_url(g, "gateway")?,
            CLI_CLIENT_ID.to_string(),
        ),
        (None, Some(i)) => {
            let id = args
                .client_id
                .clone()
                .ok_or_else(|| anyhow!("--issuer needs --client-id"))?;
            (Mode::Idp, oauth::base_url(i, "issuer")?, id)
        }
        (None, None) => match old {
            Some(p) => (p.mode, p.place().to_string(), p.client_id.clone()),
            None => bail!(
                "profile `{name}` has no gateway yet: run `conduit token login --gateway URL{}`",
                profile_flag(name)
            ),
        },
    };
    let ca_cert = match &args.ca_cert {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the CA certificate {}", p.display()))?,
        ),
        // The same server as before: the certificate trusted then.
        None => old
            .filter(|p| p.place().trim_end_matches('/') == base.trim_end_matches('/'))
            .and_then(|p| p.ca_cert.clone()),
    };
    let client = Client::new(&base, ca_cert.as_deref())?;
    let (gateway, meta) = match mode {
        Mode::Gateway => {
            let meta = client.gateway_metadata(&base)?;
            (Some(base), meta)
        }
        Mode::Idp => (None, client.idp_metadata(&base)?),
    };
    Ok((
        Target {
            mode,
            gateway,
            client_id,
            meta,
            ca_cert,
        },
        client,
    ))
}

/// Revoke a replaced sign-in's refresh token (which ends its family at the gateway).
fn revoke_old(old: &Profile, refresh_token: &str) -> anyhow::Result<()> {
    let Some(endpoint) = &old.revocation_endpoint else {
        bail!("{} names no revocation endpoint", old.place());
    };
    let client = Client::new(old.place(), old.ca_cert.as_deref())?;
    client.revoke(endpoint, refresh_token, "refresh_token", &old.client_id)
}
