//! The account registry, `$CONDUIT_HOME/data/credentials.json`: which Kiro accounts conduit
//! knows and where each one's token file is. The first enabled account is the default one; its
//! token file is `data/kiro-auth-token.json`, further accounts live in `data/accounts/<id>.json`.
//!
//! ```json
//! {"version":1,"accounts":[{"id":"acc_1a2b3c4d","label":"https://view.awsapps.com/start",
//!   "source":"device","token_file":"/home/me/.conduit/data/kiro-auth-token.json",
//!   "profile_arn":"arn:aws:codewhisperer:us-east-1:1:profile/X",
//!   "added_at":"2026-01-01T00:00:00Z","enabled":true}]}
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use conduit_core::fsutil::write_private_atomic;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The registry's file name inside the data dir.
pub const REGISTRY_FILE: &str = "credentials.json";
/// The default account's token file inside the data dir.
pub const DEFAULT_TOKEN_FILE: &str = "kiro-auth-token.json";
/// Where further accounts' token files live inside the data dir.
pub const ACCOUNTS_DIR: &str = "accounts";

/// How an account got into conduit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountSource {
    /// `conduit login` / `GET /login` (AWS SSO OIDC device flow).
    Device,
    /// Imported from a Kiro IDE token file.
    Ide,
    /// Imported from the kiro-cli / Amazon Q SQLite database.
    KiroCli,
    /// Seeded from `KIRO_REFRESH_TOKEN`.
    Env,
    /// `conduit login --social google|github` (Kiro social sign-in, PKCE).
    Social,
}

impl AccountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountSource::Device => "device",
            AccountSource::Ide => "ide",
            AccountSource::KiroCli => "kiro-cli",
            AccountSource::Env => "env",
            AccountSource::Social => "social",
        }
    }
}

/// One account. Never holds a secret: those are in the token file (or the keychain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEntry {
    /// `acc_` + 8 hex digits.
    pub id: String,
    /// For people: the start URL and profile name.
    pub label: String,
    pub source: AccountSource,
    /// Absolute path of a `kiro-auth-token.json`-format file.
    pub token_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_arn: Option<String>,
    /// What kind of account this is (`builder_id`, `idc`, `social`, `external_idp`); older
    /// registries do not say (the token file does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<super::kind::AccountKind>,
    /// RFC3339.
    pub added_at: String,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

fn enabled_default() -> bool {
    true
}

/// The whole registry file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    pub version: u32,
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            version: 1,
            accounts: Vec::new(),
        }
    }
}

/// Why the registry cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a conduit account registry ({source}); fix or remove it", path.display())]
    NotARegistry {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} has version {version}, this conduit reads version 1", path.display())]
    Version { path: PathBuf, version: u32 },
}

/// For the callers that still report errors as text (sign-in, credential discovery).
impl From<RegistryError> for String {
    fn from(e: RegistryError) -> String {
        e.to_string()
    }
}

impl Registry {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(REGISTRY_FILE)
    }

    /// Reads the registry; a missing file is an empty registry.
    pub fn load(data_dir: &Path) -> Result<Registry, RegistryError> {
        let path = Self::path(data_dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
            Err(source) => return Err(RegistryError::Read { path, source }),
        };
        let reg: Registry = match serde_json::from_str(&text) {
            Ok(reg) => reg,
            Err(source) => return Err(RegistryError::NotARegistry { path, source }),
        };
        if reg.version != 1 {
            return Err(RegistryError::Version {
                path,
                version: reg.version,
            });
        }
        Ok(reg)
    }

    /// Writes the registry atomically, 0600.
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let mut data = serde_json::to_vec_pretty(self)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        data.push(b'\n');
        write_private_atomic(&Self::path(data_dir), &data)
    }

    /// The default account: the first enabled one.
    pub fn default_account(&self) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.enabled)
    }

    pub fn get(&self, id: &str) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The account a new sign-in replaces (instead of adding a twin): a device sign-in to the
    /// same start URL (whatever profile either found: the profile cached for the earlier
    /// identity must not survive), a social sign-in with the same provider, or an import of the
    /// same origin and profile.
    pub fn find_same(
        &self,
        source: AccountSource,
        label: &str,
        arn: Option<&str>,
    ) -> Option<&AccountEntry> {
        let start_url = |l: &str| l.split(" / ").next().unwrap_or(l).to_string();
        self.accounts.iter().find(|a| {
            a.source == source
                && match source {
                    AccountSource::Device => start_url(&a.label) == start_url(label),
                    AccountSource::Social => a.label == label,
                    _ => a.label == label && a.profile_arn.as_deref() == arn,
                }
        })
    }

    /// A fresh id and the token file a new account gets: the default file for the first
    /// account (or when that file is free), `accounts/<id>.json` after that.
    pub fn allocate(&self, data_dir: &Path) -> (String, PathBuf) {
        let id = loop {
            let id = format!("acc_{:08x}", rand::random::<u32>());
            if self.get(&id).is_none() {
                break id;
            }
        };
        let default = data_dir.join(DEFAULT_TOKEN_FILE);
        let taken = self.accounts.iter().any(|a| a.token_file == default);
        let file = if taken {
            data_dir.join(ACCOUNTS_DIR).join(format!("{id}.json"))
        } else {
            default
        };
        (id, file)
    }

    /// Adds or replaces (by id) an entry.
    pub fn upsert(&mut self, entry: AccountEntry) {
        match self.accounts.iter_mut().find(|a| a.id == entry.id) {
            Some(slot) => *slot = entry,
            None => self.accounts.push(entry),
        }
    }

    /// Removes an account by id; returns it.
    pub fn remove(&mut self, id: &str) -> Option<AccountEntry> {
        let pos = self.accounts.iter().position(|a| a.id == id)?;
        Some(self.accounts.remove(pos))
    }
}

/// Now, as the registry writes it.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_account_gets_the_default_file_and_the_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("conduit-reg-{}", uuid::Uuid::new_v4()));
        let mut reg = Registry::load(&dir).unwrap();
        assert!(reg.accounts.is_empty());
        let (id, file) = reg.allocate(&dir);
        assert!(id.starts_with("acc_") && id.len() == 12, "{id}");
        assert_eq!(file, dir.join(DEFAULT_TOKEN_FILE));
        reg.upsert(AccountEntry {
            id: id.clone(),
            label: "https://view.awsapps.com/start".into(),
            source: AccountSource::Device,
            token_file: file,
            profile_arn: Some("arn:aws:codewhisperer:us-east-1:1:profile/X".into()),
            kind: None,
            added_at: now_rfc3339(),
            enabled: true,
        });
        let (_, second) = reg.allocate(&dir);
        assert!(second.starts_with(dir.join(ACCOUNTS_DIR)));
        reg.save(&dir).unwrap();
        let text = fs::read_to_string(Registry::path(&dir)).unwrap();
        assert!(text.contains("\"source\": \"device\""), "{text}");
        assert_eq!(Registry::load(&dir).unwrap(), reg);
        assert_eq!(reg.default_account().unwrap().id, id);
        let _ = fs::remove_dir_all(&dir);
    }
}
