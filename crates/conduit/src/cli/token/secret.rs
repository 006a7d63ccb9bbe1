//! Where a profile's tokens are kept: one entry (service `conduit`, account `token:<profile>`)
//! holding `{"access_token", "refresh_token", "expires_at"}` in the OS keychain (Secret Service
//! on Linux, Keychain on macOS, Credential Manager on Windows), else the Linux kernel keyring,
//! else a 0600 file. `login` picks the first store that takes a write and gives it back; the
//! profile records it, and every later read and write goes there.

use std::fmt;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use super::profile::{self, Files};

/// The keychain service name of every conduit token entry.
pub const SERVICE: &str = "conduit";
/// Forces the store `login` uses (tests, machines whose keychain misbehaves).
pub const STORE_VAR: &str = "CONDUIT_TOKEN_STORE";

/// A secret store, as recorded in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// Linux: the Secret Service over D-Bus (gnome-keyring, KWallet).
    SecretService,
    /// macOS: the login Keychain.
    Keychain,
    /// Windows: the Credential Manager.
    CredentialManager,
    /// Linux: the kernel keyring (keyutils), gone after a reboot.
    KernelKeyring,
    /// `tokens/<profile>.secret.json`, 0600, not encrypted.
    File,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::Keychain => "keychain",
            Self::CredentialManager => "credential-manager",
            Self::KernelKeyring => "kernel-keyring",
            Self::File => "file",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Where the tokens are, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SecretService => "the Secret Service (the desktop keyring, over D-Bus)",
            Self::Keychain => "the macOS Keychain",
            Self::CredentialManager => "the Windows Credential Manager",
            Self::KernelKeyring => "the kernel keyring (forgotten at reboot)",
            Self::File => "a 0600 file (not encrypted)",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const ALL: [StoreKind; 5] = [
    StoreKind::SecretService,
    StoreKind::Keychain,
    StoreKind::CredentialManager,
    StoreKind::KernelKeyring,
    StoreKind::File,
];

/// This system's stores, best first.
fn native() -> &'static [StoreKind] {
    if cfg!(target_os = "linux") {
        &[
            StoreKind::SecretService,
            StoreKind::KernelKeyring,
            StoreKind::File,
        ]
    } else if cfg!(target_os = "macos") {
        &[StoreKind::Keychain, StoreKind::File]
    } else if cfg!(target_os = "windows") {
        &[StoreKind::CredentialManager, StoreKind::File]
    } else {
        &[StoreKind::File]
    }
}

/// The stores `login` tries, in order: the one `CONDUIT_TOKEN_STORE` names, else this system's.
pub fn candidates(forced: Option<&str>) -> anyhow::Result<Vec<StoreKind>> {
    let Some(name) = forced.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(native().to_vec());
    };
    let names = || native().iter().map(|k| k.as_str()).collect::<Vec<_>>();
    match StoreKind::parse(name) {
        Some(kind) if native().contains(&kind) => Ok(vec![kind]),
        _ => bail!(
            "{STORE_VAR}={name:?} is not a token store here: use one of {}",
            names().join(", ")
        ),
    }
}

/// What one entry holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    /// What the helper prints: the gateway's access token, or the IdP's `id_token`.
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When `access_token` expires, unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The keychain account of a profile.
fn account(profile: &str) -> String {
    format!("token:{profile}")
}

/// Read the profile's entry from `kind`; `None` when there is none.
pub fn read(kind: StoreKind, files: &Files) -> anyhow::Result<Option<Secrets>> {
    let bytes = match kind {
        StoreKind::File => match std::fs::read(files.secret()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", files.secret().display()))
            }
        },
        _ => match keychain::get(kind, &files.name) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) => bail!(
                "cannot read the tokens from {}: {e}; is it running and unlocked? `conduit token \
                 login{}` stores them again (in the first store that works)",
                kind.describe(),
                profile::profile_flag(&files.name)
            ),
        },
    };
    // The blob's text is never shown: it may be a token.
    serde_json::from_slice(&bytes).map(Some).map_err(|_| {
        anyhow!(
            "the tokens in {} are damaged: run `conduit token login{}`",
            kind.describe(),
            profile::profile_flag(&files.name)
        )
    })
}

/// Store the profile's entry in `kind` (replacing what is there).
pub fn write(kind: StoreKind, files: &Files, secrets: &Secrets) -> anyhow::Result<()> {
    let body = serde_json::to_vec(secrets)?;
    match kind {
        StoreKind::File => conduit_core::fsutil::write_private_atomic(&files.secret(), &body)
            .with_context(|| format!("cannot write {}", files.secret().display())),
        _ => keychain::set(kind, &files.name, &body)
            .map_err(|e| anyhow!("cannot store the tokens in {}: {e}", kind.describe())),
    }
}

/// Delete the profile's entry from `kind`; `false` when there was none.
pub fn delete(kind: StoreKind, files: &Files) -> anyhow::Result<bool> {
    match kind {
        StoreKind::File => profile::remove(&files.secret()),
        _ => keychain::delete(kind, &files.name)
            .map_err(|e| anyhow!("cannot delete the tokens from {}: {e}", kind.describe())),
    }
}

/// Store `secrets` in the first of `candidates` that takes them and gives them back; that
/// store, and why each one before it failed.
pub fn store_first(
    candidates: &[StoreKind],
    files: &Files,
    secrets: &Secrets,
) -> anyhow::Result<(StoreKind, Vec<String>)> {
    let mut failures = Vec::new();
    for &kind in candidates {
        let stored = write(kind, files, secrets).and_then(|()| read(kind, files));
        match stored {
            Ok(Some(back)) if back == *secrets => return Ok((kind, failures)),
            Ok(_) => {
                failures.push(format!("{kind}: what was written did not read back"));
                let _ = delete(kind, files);
            }
            Err(e) => failures.push(format!("{kind}: {e:#}")),
        }
    }
    bail!("no token store took the tokens ({})", failures.join("; "))
}

/// The keychain stores through the `keyring` crate, each credential built explicitly (no
/// default store: `conduit-kiro` has its own).
mod keychain {
    use super::{account, StoreKind, SERVICE};

    fn entry(kind: StoreKind, profile: &str) -> Result<keyring::Entry, String> {
        let user = account(profile);
        match kind {
            #[cfg(target_os = "linux")]
            StoreKind::SecretService => {
                let mut cred =
                    keyring::secret_service::SsCredential::new_with_target(None, SERVICE, &user)
                        .map_err(|e| e.to_string())?;
                // `secret-tool lookup service conduit account token:<profile>` finds it.
                cred.attributes.insert("account".into(), user.clone());
                cred.label = format!("conduit token ({profile})");
                Ok(keyring::Entry::new_with_credential(Box::new(cred)))
            }
            #[cfg(target_os = "linux")]
            StoreKind::KernelKeyring => {
                let cred =
                    keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, &user)
                        .map_err(|e| e.to_string())?;
                Ok(keyring::Entry::new_with_credential(Box::new(cred)))
            }
            #[cfg(any(target_os = "macos", target_os = "windows"))]
            StoreKind::Keychain | StoreKind::CredentialManager => {
                keyring::Entry::new(SERVICE, &user).map_err(|e| e.to_string())
            }
            other => Err(format!("{other} is not available on this system")),
        }
    }

    /// The keyring error, never its payload (a `BadEncoding` carries the secret's bytes).
    fn message(e: &keyring::Error) -> String {
        match e {
            keyring::Error::NoStorageAccess(inner) => {
                format!("the keychain is locked or refused access ({inner})")
            }
            keyring::Error::PlatformFailure(inner) => inner.to_string(),
            keyring::Error::Ambiguous(found) => {
                format!("{} entries match; delete the extra ones", found.len())
            }
            other => other.to_string(),
        }
    }

    pub fn get(kind: StoreKind, profile: &str) -> Result<Option<Vec<u8>>, String> {
        match entry(kind, profile)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(message(&e)),
        }
    }

    pub fn set(kind: StoreKind, profile: &str, secret: &[u8]) -> Result<(), String> {
        match entry(kind, profile)?.set_secret(secret) {
            Ok(()) => Ok(()),
            // keyring reads the kernel's EACCES as "no entry".
            Err(keyring::Error::NoEntry) if kind == StoreKind::KernelKeyring => {
                Err("the kernel refused access (no session keyring of this login's own?)".into())
            }
            Err(e) => Err(message(&e)),
        }
    }

    pub fn delete(kind: StoreKind, profile: &str) -> Result<bool, String> {
        match entry(kind, profile)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(message(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forced_store_must_be_one_of_this_systems() {
        type Case<'a> = (Option<&'a str>, Result<&'a [StoreKind], &'a str>);
        let cases: &[Case] = &[
            (None, Ok(native())),
            (Some(""), Ok(native())),
            (Some("file"), Ok(&[StoreKind::File])),
            (Some(" file "), Ok(&[StoreKind::File])),
            (Some("vault"), Err("is not a token store here")),
            (Some("FILE"), Err("is not a token store here")),
        ];
        for (forced, want) in cases {
            let got = candidates(*forced);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{forced:?}"),
                (Err(w), Err(e)) => assert!(e.to_string().contains(w), "{forced:?}: {e}"),
                (w, g) => panic!("{forced:?}: wanted {w:?}, got {g:?}"),
            }
        }
        #[cfg(target_os = "linux")]
        assert_eq!(
            candidates(Some("kernel-keyring")).unwrap(),
            [StoreKind::KernelKeyring]
        );
    }

    #[test]
    fn secrets_debug_shows_no_token() {
        let s = Secrets {
            access_token: "at-secret".into(),
            refresh_token: Some("rt-secret".into()),
            expires_at: 5,
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_store_is_private_and_gives_back_what_it_took() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("conduit-token-{}", std::process::id()));
        let paths = crate::cli::Paths {
            home: dir.clone(),
            user_home: None,
        };
        let files = Files::new(&paths, "unit");
        let s = Secrets {
            access_token: "a".into(),
            refresh_token: None,
            expires_at: 7,
        };
        let (kind, failed) = store_first(&[StoreKind::File], &files, &s).unwrap();
        assert_eq!((kind, failed.len()), (StoreKind::File, 0));
        let mode = std::fs::metadata(files.secret())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(files.secret(), "{not json").unwrap();
        let damaged = read(StoreKind::File, &files).unwrap_err().to_string();
        assert!(
            damaged.contains("conduit token login --profile unit"),
            "{damaged}"
        );
        assert!(delete(StoreKind::File, &files).unwrap());
        assert_eq!(read(StoreKind::File, &files).unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
