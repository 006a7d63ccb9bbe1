//! `conduit token status [--json]`: who is signed in (the gateway's `/auth/me` for a live
//! access token, else the profile's `user`), to which gateway or IdP, until when, whether a
//! refresh token is there, and where the tokens are kept (a warning when it is the plain file).
//! Exit 1 when not signed in. Read-only: it never refreshes.

use std::process::ExitCode;

use serde_json::{json, Value};

use super::flow;
use super::oauth::Client;
use super::profile::{profile_flag, Files, Mode, Profile};
use super::secret::{self, StoreKind};
use super::{show_time, unix_now};
use crate::cli::output::{self, line, warn};
use crate::cli::{exit, Outcome, Paths};

pub fn run(paths: &Paths, name: &str, json: bool) -> Outcome {
    let files = Files::new(paths, name);
    let flag = profile_flag(name);
    let Some(profile) = Profile::load(&files)? else {
        if json {
            output::json(&json!({"profile": name, "signed_in": false}));
        } else {
            line(format!(
                "Not signed in (profile {name}): run `conduit token login --gateway URL{flag}`."
            ));
        }
        return Ok(ExitCode::from(exit::FAILED));
    };
    let stored = secret::read(profile.store, &files)?;
    let now = unix_now();
    let live = stored.as_ref().filter(|s| s.expires_at > now);
    let has_refresh = stored.as_ref().is_some_and(|s| s.refresh_token.is_some());
    let signed_in = live.is_some() || has_refresh;
    // The gateway says who the live access token is (an IdP's ID token is read as is).
    let mut me = Value::Null;
    let mut me_error = None;
    if let (Some(gateway), Some(s)) = (&profile.gateway, live) {
        let asked = Client::new(gateway, profile.ca_cert.as_deref())
            .and_then(|c| c.me(gateway, &s.access_token));
        match asked {
            Ok(v) => me = v,
            Err(e) => me_error = Some(format!("{e:#}")),
        }
    }
    let user = flow::who(&me).or_else(|| profile.user.clone());
    let file_warning = (profile.store == StoreKind::File).then(|| {
        format!(
            "the tokens are in a plain file, {} (0600, not encrypted), not in a keychain",
            paths.show(&files.secret())
        )
    });
    if json {
        output::json(&json!({
            "profile": name,
            "signed_in": signed_in,
            "mode": profile.mode,
            "gateway": profile.gateway,
            "issuer": profile.issuer,
            "client_id": profile.client_id,
            "user": user,
            "email": me["email"], "name": me["name"], "subject": me["subject"], "role": me["role"],
            "me_error": me_error,
            "expires_at": stored.as_ref().map(|s| s.expires_at),
            "access_token_valid": live.is_some(),
            "refresh_token": has_refresh,
            "store": profile.store,
            "store_description": profile.store.describe(),
            "warning": file_warning,
        }));
    } else {
        let signed = if signed_in {
            "signed in"
        } else {
            "not signed in"
        };
        let place = match profile.mode {
            Mode::Gateway => format!("gateway {}", profile.place()),
            Mode::Idp => format!(
                "identity provider {} (client {})",
                profile.issuer, profile.client_id
            ),
        };
        line(format!("Profile {name}: {signed} to the {place}."));
        let mut rows = vec![(
            "user",
            user.clone().unwrap_or_else(|| "(unknown)".to_string()),
        )];
        if let Some(subject) = me["subject"]
            .as_str()
            .filter(|s| Some(*s) != user.as_deref())
        {
            rows.push(("subject", subject.to_string()));
        }
        if let Some(role) = me["role"].as_str() {
            rows.push(("role", role.to_string()));
        }
        let access = match &stored {
            Some(s) if s.expires_at > now => format!(
                "valid until {} ({} min left)",
                show_time(s.expires_at),
                (s.expires_at - now) / 60
            ),
            Some(s) => format!("expired at {}", show_time(s.expires_at)),
            None => "none stored".to_string(),
        };
        rows.push(("access token", access));
        let refresh = if has_refresh { "present" } else { "none" };
        rows.push(("refresh token", refresh.to_string()));
        let mut kept = profile.store.describe().to_string();
        if profile.store == StoreKind::File {
            kept = format!("{kept}: {}", paths.show(&files.secret()));
        }
        rows.push(("tokens kept in", kept));
        output::rows(&rows);
        if !signed_in {
            line(format!("Run `conduit token login{flag}` to sign in again."));
        }
    }
    if let Some(w) = &file_warning {
        warn(w);
    }
    if let Some(e) = &me_error {
        warn(format!("cannot ask the gateway who this is: {e}"));
    }
    Ok(ExitCode::from(if signed_in {
        exit::OK
    } else {
        exit::FAILED
    }))
}
