//! The admin CLI's saved session: `$CONDUIT_HOME/team-session.json` (0600, written atomically)
//! with the gateway's URL, the session token, its expiry and the CA certificate to trust.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::Paths;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The gateway's base URL, without a trailing slash.
    pub url: String,
    pub token: String,
    /// RFC 3339, as the gateway sent it.
    pub expires_at: String,
    /// The PEM certificate(s) given to `login --ca-cert`, trusted for this gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

pub fn path(paths: &Paths) -> PathBuf {
    paths.home.join("team-session.json")
}

impl Session {
    /// The saved session; an error that says to log in when there is none or it expired.
    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        let file = path(paths);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(anyhow!(
                    "not logged in to a team gateway: run `conduit team login URL` first"
                ))
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        let session: Session = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is damaged: run `conduit team login URL` again",
                file.display()
            )
        })?;
        if session.expired() {
            return Err(anyhow!(
                "the session with {} expired at {}: run `conduit team login {}` again",
                session.url,
                session.expires_at,
                session.url
            ));
        }
        Ok(session)
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<PathBuf> {
        let file = path(paths);
        let body = serde_json::to_vec_pretty(self)?;
        conduit_core::fsutil::write_private_atomic(&file, &body)
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(file)
    }

    fn expired(&self) -> bool {
        OffsetDateTime::parse(&self.expires_at, &Rfc3339)
            .is_ok_and(|at| at <= OffsetDateTime::now_utc())
    }
}

/// Forget the saved session; `false` when there was none.
pub fn remove(paths: &Paths) -> anyhow::Result<bool> {
    let file = path(paths);
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", file.display())),
    }
}
