//! The non-secret half of a token profile: `$CONDUIT_HOME/tokens/<profile>.json` (0600, written
//! atomically) with where the tokens come from (gateway or IdP, its endpoints, the CA to trust),
//! where they are kept, and when the access token expires. The tokens themselves are in
//! [`super::secret`].

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use super::secret::StoreKind;
use crate::cli::Paths;

/// Where the tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The team gateway is the authorization server; the helper prints its access token.
    Gateway,
    /// An identity provider is; the helper prints its `id_token` (the gateway's OIDC tier).
    Idp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub mode: Mode,
    /// Gateway mode: the gateway's base URL, without a trailing slash.
    #[serde(default)]
    pub gateway: Option<String>,
    pub issuer: String,
    pub client_id: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// PEM certificate(s) trusted for this gateway or IdP besides the usual roots.
    #[serde(default)]
    pub ca_cert: Option<String>,
    pub store: StoreKind,
    #[serde(default)]
    pub user: Option<String>,
    /// The access token's expiry, unix seconds (a copy of the secret's, for `status` and
    /// `configure-claude`).
    #[serde(default)]
    pub expires_at: i64,
    /// `expires_in` of the last token answer.
    #[serde(default)]
    pub lifetime_secs: u64,
}

/// `[A-Za-z0-9_.-]{1,64}`: a profile name is part of file names and keychain accounts.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && name != "."
        && name != "..";
    if !ok {
        bail!(
            "{name:?} is not a profile name: use 1 to 64 of A-Z, a-z, 0-9, `_`, `.`, `-` \
             (e.g. `default`, `team-a`)"
        );
    }
    Ok(())
}

/// The files of one profile under `$CONDUIT_HOME/tokens/`.
#[derive(Debug, Clone)]
pub struct Files {
    pub name: String,
    pub dir: PathBuf,
}

impl Files {
    pub fn new(paths: &Paths, name: &str) -> Self {
        Self {
            name: name.to_string(),
            dir: paths.home.join("tokens"),
        }
    }
    pub fn profile(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.name))
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.name))
    }
    pub fn fail(&self) -> PathBuf {
        self.dir.join(format!("{}.fail", self.name))
    }
    pub fn secret(&self) -> PathBuf {
        self.dir.join(format!("{}.secret.json", self.name))
    }
}

impl Profile {
    /// The saved profile; `None` when there is none. A damaged file is an error that says to
    /// sign in again.
    pub fn load(files: &Files) -> anyhow::Result<Option<Self>> {
        let path = files.profile();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            anyhow!(
                "{} is damaged ({e}): run `conduit token login{}` again",
                path.display(),
                profile_flag(&files.name)
            )
        })
    }

    pub fn save(&self, files: &Files) -> anyhow::Result<()> {
        let path = files.profile();
        let body = serde_json::to_vec_pretty(self)?;
        conduit_core::fsutil::write_private_atomic(&path, &body)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The gateway's base URL, else the issuer: what the person signed in to.
    pub fn place(&self) -> &str {
        self.gateway.as_deref().unwrap_or(&self.issuer)
    }
}

/// ` --profile NAME` for commands shown to the person, empty for the default profile.
pub fn profile_flag(name: &str) -> String {
    if name == super::DEFAULT_PROFILE {
        String::new()
    } else {
        format!(" --profile {name}")
    }
}

/// Remove a file, `false` when it was not there.
pub fn remove(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
