//! Where long-lived secrets (refresh tokens, OIDC client secrets) are kept: the OS keychain
//! through the `keyring` crate, or the 0600 token files themselves.
//!
//! With the keychain in use a file holds a reference instead of the secret:
//! `"refreshToken": "keychain:acc_1a2b3c4d/refreshToken"`. The keychain entry is service
//! `conduit`, user `acc_1a2b3c4d/refreshToken`. Access tokens (short-lived) always stay in the
//! file. On Linux the `keyring` backend is the kernel keyutils store, which needs no D-Bus but
//! forgets everything at reboot, so `auto` picks files there; `keychain` forces it.

use std::fmt;

use serde::Serialize;

/// Why the secret store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("CONDUIT_SECRET_STORE {0:?} must be one of file, keychain, auto")]
    UnknownMode(String),
    #[error("keychain entry {user}: {source}")]
    Entry {
        user: String,
        source: keyring::Error,
    },
    #[error("could not store {user} in the keychain: {source}")]
    Store {
        user: String,
        source: keyring::Error,
    },
    #[error("could not update {user} in the keychain: {source}")]
    Update {
        user: String,
        source: keyring::Error,
    },
    #[error("the keychain entry {user} cannot be read ({source}); run `conduit login`")]
    Read {
        user: String,
        source: keyring::Error,
    },
    /// The keychain did not keep a probe value.
    #[error("{0}")]
    Probe(keyring::Error),
    #[error("the keychain returned something else")]
    ProbeMismatch,
}

/// For the callers that still report errors as text (the sign-in and file code).
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}

/// Prefix of a value that names a keychain entry rather than holding the secret.
pub const KEYCHAIN_PREFIX: &str = "keychain:";
const SERVICE: &str = "conduit";

/// `CONDUIT_SECRET_STORE`: what the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretStoreMode {
    /// Secrets in the 0600 files.
    File,
    /// The OS keychain; files when none answers (with a warning in the status).
    Keychain,
    /// The keychain where it is persistent (macOS, Windows), else files.
    #[default]
    Auto,
}

impl SecretStoreMode {
    pub fn parse(v: &str) -> Result<Self, StoreError> {
        match v.to_ascii_lowercase().as_str() {
            "file" | "files" => Ok(Self::File),
            "keychain" | "keyring" => Ok(Self::Keychain),
            "auto" => Ok(Self::Auto),
            _ => Err(StoreError::UnknownMode(v.to_string())),
        }
    }
}

/// The store actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretBackend {
    File,
    Keychain,
}

impl fmt::Display for SecretBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretBackend::File => "files (0600, $CONDUIT_HOME/data)",
            SecretBackend::Keychain => "OS keychain",
        })
    }
}

/// Decides the backend for `mode`, probing the keychain when it may be used. The second value
/// explains a fallback (for `conduit status` and `accounts list`).
pub fn resolve(mode: SecretStoreMode) -> (SecretBackend, Option<String>) {
    match mode {
        SecretStoreMode::File => (SecretBackend::File, None),
        SecretStoreMode::Auto if cfg!(target_os = "linux") => (SecretBackend::File, None),
        SecretStoreMode::Auto | SecretStoreMode::Keychain => match probe() {
            Ok(()) => (SecretBackend::Keychain, None),
            Err(e) => (
                SecretBackend::File,
                Some(format!(
                    "no usable OS keychain ({e}); secrets are kept in 0600 files"
                )),
            ),
        },
    }
}

fn probe() -> Result<(), StoreError> {
    let entry = entry("probe").map_err(StoreError::Probe)?;
    entry.set_password("probe").map_err(StoreError::Probe)?;
    let back = entry.get_password().map_err(StoreError::Probe)?;
    let _ = entry.delete_credential();
    if back == "probe" {
        Ok(())
    } else {
        Err(StoreError::ProbeMismatch)
    }
}

/// Stores `secret` under `owner/name` and returns what the file should hold: the secret itself
/// for files, a `keychain:` reference otherwise.
pub fn put(
    backend: SecretBackend,
    owner: &str,
    name: &str,
    secret: &str,
) -> Result<String, StoreError> {
    match backend {
        SecretBackend::File => Ok(secret.to_string()),
        SecretBackend::Keychain => {
            let user = format!("{owner}/{name}");
            let entry = entry(&user).map_err(|source| StoreError::Entry {
                user: user.clone(),
                source,
            })?;
            entry
                .set_password(secret)
                .map_err(|source| StoreError::Store {
                    user: user.clone(),
                    source,
                })?;
            Ok(format!("{KEYCHAIN_PREFIX}{user}"))
        }
    }
}

/// Updates the secret behind a reference read from a file (rotation); plain values are
/// returned as given so the caller writes them into the file.
pub fn update(stored: &str, secret: &str) -> Result<String, StoreError> {
    match stored.strip_prefix(KEYCHAIN_PREFIX) {
        Some(user) => {
            let entry = entry(user).map_err(|source| StoreError::Entry {
                user: user.to_string(),
                source,
            })?;
            entry
                .set_password(secret)
                .map_err(|source| StoreError::Update {
                    user: user.to_string(),
                    source,
                })?;
            Ok(stored.to_string())
        }
        None => Ok(secret.to_string()),
    }
}

/// The secret a file value stands for: itself, or the keychain entry it names.
pub fn reveal(stored: &str) -> Result<String, StoreError> {
    match stored.strip_prefix(KEYCHAIN_PREFIX) {
        Some(user) => entry(user)
            .and_then(|e| e.get_password())
            .map_err(|source| StoreError::Read {
                user: user.to_string(),
                source,
            }),
        None => Ok(stored.to_string()),
    }
}

/// Removes keychain entries a file value names (when an account is removed). Best effort.
pub fn forget(stored: &str) {
    if let Some(user) = stored.strip_prefix(KEYCHAIN_PREFIX) {
        if let Ok(e) = entry(user) {
            let _ = e.delete_credential();
        }
    }
}

/// The keychain entry for `user`. On Linux always the kernel keyutils store, named explicitly:
/// the binary also enables keyring's Secret Service backend (for `conduit token`), which would
/// otherwise become `Entry::new`'s default there.
fn entry(user: &str) -> keyring::Result<keyring::Entry> {
    #[cfg(target_os = "linux")]
    {
        let cred = keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, user)?;
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        keyring::Entry::new(SERVICE, user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_files_keep_the_secret_itself() {
        assert_eq!(
            SecretStoreMode::parse("FILE").unwrap(),
            SecretStoreMode::File
        );
        assert_eq!(
            SecretStoreMode::parse("keychain").unwrap(),
            SecretStoreMode::Keychain
        );
        assert!(SecretStoreMode::parse("vault").is_err());
        assert_eq!(resolve(SecretStoreMode::File), (SecretBackend::File, None));
        assert_eq!(put(SecretBackend::File, "a", "b", "s3").unwrap(), "s3");
        assert_eq!(reveal("plain").unwrap(), "plain");
        assert_eq!(update("plain", "new").unwrap(), "new");
    }
}
