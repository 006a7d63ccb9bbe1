//! Reading the kiro-cli / Amazon Q CLI SQLite database (spec §1.3): the token and device
//! registration JSON in `auth_kv`, the selected profile in `state`. Read-only; conduit never
//! writes to another program's database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

/// Token keys in the order they are preferred (spec §1.3), with their registration key.
pub const TOKEN_KEYS: [(&str, Option<&str>); 3] = [
    ("kirocli:social:token", None),
    (
        "kirocli:odic:token",
        Some("kirocli:odic:device-registration"),
    ),
    (
        "codewhisperer:odic:token",
        Some("codewhisperer:odic:device-registration"),
    ),
];
const PROFILE_KEY: &str = "api.codewhisperer.profile";

/// A sign-in found in the database.
#[derive(Clone)]
pub struct CliLogin {
    /// The `auth_kv` key the token came from.
    pub key: &'static str,
    pub token: Value,
    pub registration: Option<Value>,
    /// `(arn, profile_name)` from `state`.
    pub profile: Option<(String, String)>,
}

impl CliLogin {
    /// A string field of the token, snake_case or camelCase.
    pub fn token_field(&self, snake: &str, camel: &str) -> Option<String> {
        field(&self.token, snake, camel)
    }

    pub fn registration_field(&self, snake: &str, camel: &str) -> Option<String> {
        self.registration
            .as_ref()
            .and_then(|r| field(r, snake, camel))
    }

    pub fn is_social(&self) -> bool {
        self.key.contains(":social:")
    }
}

pub fn field(v: &Value, snake: &str, camel: &str) -> Option<String> {
    v.get(snake)
        .or_else(|| v.get(camel))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Why the kiro-cli database gave no sign-in.
#[derive(Debug, thiserror::Error)]
pub enum CliDbError {
    #[error("cannot open the kiro-cli database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Query {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the kiro-cli database {} holds no sign-in (looked for {}): run `kiro-cli login` or `conduit login`",
        path.display(),
        TOKEN_KEYS.map(|(k, _)| k).join(", ")
    )]
    NoSignIn { path: PathBuf },
}

/// For the import code, which still reports errors as text.
impl From<CliDbError> for String {
    fn from(e: CliDbError) -> String {
        e.to_string()
    }
}

/// The preferred sign-in in the database at `path`.
pub fn read_kiro_cli(path: &Path) -> Result<CliLogin, CliDbError> {
    let query = |source| CliDbError::Query {
        path: path.to_path_buf(),
        source,
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            CliDbError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(query)?;
    for (key, reg_key) in TOKEN_KEYS {
        let Some(token) = get_json(&conn, "auth_kv", key).map_err(query)? else {
            continue;
        };
        if field(&token, "refresh_token", "refreshToken").is_none() {
            continue;
        }
        let registration = match reg_key {
            Some(k) => get_json(&conn, "auth_kv", k).map_err(query)?,
            None => None,
        };
        let profile = get_json(&conn, "state", PROFILE_KEY)
            .ok()
            .flatten()
            .and_then(|p| {
                let arn = field(&p, "arn", "arn")?;
                Some((
                    arn,
                    field(&p, "profile_name", "profileName").unwrap_or_default(),
                ))
            });
        return Ok(CliLogin {
            key,
            token,
            registration,
            profile,
        });
    }
    Err(CliDbError::NoSignIn {
        path: path.to_path_buf(),
    })
}

fn get_json(conn: &Connection, table: &str, key: &str) -> rusqlite::Result<Option<Value>> {
    let sql = format!("SELECT value FROM {table} WHERE key = ?1");
    let bytes: Option<Vec<u8>> = conn
        .query_row(&sql, [key], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
                _ => Vec::new(),
            })
        })
        .optional()?;
    Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
}
