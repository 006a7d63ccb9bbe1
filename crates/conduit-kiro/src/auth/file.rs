//! Kiro credentials at rest: the Kiro IDE token file (`kiro-auth-token.json`, camelCase, spec
//! §1.2), its `{clientIdHash}.json` client registration, and the env-seeded token conduit keeps
//! in its data dir. Reading is tolerant; writing updates only the token keys and preserves every
//! other key, atomically and 0600.

use std::fs;
use std::path::{Path, PathBuf};

use conduit_core::fsutil::write_private_atomic;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::kind::AccountKind;
use super::{AuthMethod, Creds, IdpSettings};

/// Name of the file conduit keeps the rotated token of a `KIRO_REFRESH_TOKEN` login in.
pub const ENV_TOKEN_FILE: &str = "kiro-env-token.json";
/// Key in that file tying it to the env token it was seeded from (a hash, never the token).
const SEED_KEY: &str = "conduitSeed";

/// Where credentials come from and where rotated tokens go back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Kiro IDE token file; refreshed tokens are written back to it.
    File(PathBuf),
    /// `KIRO_REFRESH_TOKEN`; refreshed tokens go to `data_dir/kiro-env-token.json`.
    Env { state_file: PathBuf },
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => format!("file {}", p.display()),
            Source::Env { .. } => "KIRO_REFRESH_TOKEN".to_string(),
        }
    }

    fn write_path(&self) -> &Path {
        match self {
            Source::File(p) => p,
            Source::Env { state_file } => state_file,
        }
    }
}

/// Reads a token file in the Kiro IDE format. `default_region` fills a missing `region`.
pub fn read_token_file(path: &Path, default_region: &str) -> Result<Creds, String> {
    let text = fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the Kiro token file {}: {e}; sign in with the Kiro IDE or run `conduit login`",
            path.display()
        )
    })?;
    let map: Map<String, Value> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "the Kiro token file {} is not valid JSON: {e}",
            path.display()
        )
    })?;
    let s = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|v| !v.is_empty())
    };
    let refresh_token = s("refreshToken").ok_or_else(|| {
        format!(
            "the Kiro token file {} has no refreshToken; sign in again",
            path.display()
        )
    })?;
    // Values may name an OS keychain entry instead (store.rs).
    let refresh_token = super::store::reveal(&refresh_token)?;
    let mut client_id = s("clientId");
    let mut client_secret = s("clientSecret")
        .map(|v| super::store::reveal(&v))
        .transpose()?;
    if client_id.is_none() {
        if let (Some(hash), Some(dir)) = (s("clientIdHash"), path.parent()) {
            if let Some((id, secret)) = read_client_registration(&dir.join(format!("{hash}.json")))
            {
                client_id = Some(id);
                client_secret = Some(secret);
            }
        }
    }
    let has_client = client_id.is_some() && client_secret.is_some();
    let kind = s("accountKind")
        .and_then(|k| AccountKind::parse(&k))
        .unwrap_or_else(|| {
            AccountKind::derive(
                s("authMethod").as_deref(),
                s("provider").as_deref(),
                s("startUrl").as_deref(),
                has_client,
                s("profileArn").as_deref(),
            )
        });
    let method = match kind {
        AccountKind::ExternalIdp => AuthMethod::ExternalIdp,
        _ if s("authMethod").is_some_and(|m| m.eq_ignore_ascii_case("social")) => {
            AuthMethod::Social
        }
        _ if has_client => AuthMethod::Idc,
        _ => AuthMethod::Social,
    };
    let idp = (kind == AccountKind::ExternalIdp).then(|| IdpSettings {
        token_url: s("idpTokenUrl"),
        tenant: s("tenantId").or_else(|| s("tenant")),
        scope: s("scope"),
    });
    Ok(Creds {
        kind,
        start_url: s("startUrl"),
        idp,
        access_token: s("accessToken"),
        refresh_token,
        expires_at: s("expiresAt").and_then(|t| parse_time(&t)),
        profile_arn: s("profileArn"),
        region: s("idcRegion")
            .or_else(|| s("region"))
            .unwrap_or_else(|| default_region.to_string()),
        method,
        client_id,
        client_secret,
    })
}

fn read_client_registration(path: &Path) -> Option<(String, String)> {
    let text = fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let get = |a: &str, b: &str| {
        v.get(a)
            .or_else(|| v.get(b))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some((
        get("clientId", "client_id")?,
        get("clientSecret", "client_secret")?,
    ))
}

/// Credentials from `KIRO_REFRESH_TOKEN`: the rotated state file if it was seeded from this very
/// token, else the bare token (which must be refreshed before first use).
pub fn env_creds(refresh_token: &str, state_file: &Path, region: &str) -> Creds {
    let seed = seed_of(refresh_token);
    if let Ok(text) = fs::read_to_string(state_file) {
        if let Ok(map) = serde_json::from_str::<Map<String, Value>>(&text) {
            if map.get(SEED_KEY).and_then(Value::as_str) == Some(seed.as_str()) {
                if let Ok(creds) = read_token_file(state_file, region) {
                    return creds;
                }
            }
        }
    }
    Creds {
        access_token: None,
        refresh_token: refresh_token.to_string(),
        expires_at: None,
        profile_arn: None,
        region: region.to_string(),
        method: AuthMethod::Social,
        kind: AccountKind::Social,
        start_url: None,
        idp: None,
        client_id: None,
        client_secret: None,
    }
}

/// Writes refreshed tokens back: re-reads the current file, replaces only `accessToken`,
/// `refreshToken`, `expiresAt` (and `profileArn` when known), keeps every other key.
/// `env_seed` is the original `KIRO_REFRESH_TOKEN` for an env source.
pub fn write_back(source: &Source, creds: &Creds, env_seed: Option<&str>) -> std::io::Result<()> {
    let path = source.write_path();
    let mut map: Map<String, Value> = fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if let Some(access) = &creds.access_token {
        map.insert("accessToken".into(), Value::String(access.clone()));
    }
    // A keychain reference stays a reference; the rotated token goes into the keychain.
    let refresh = match map.get("refreshToken").and_then(Value::as_str) {
        Some(stored) => {
            super::store::update(stored, &creds.refresh_token).map_err(std::io::Error::other)?
        }
        None => creds.refresh_token.clone(),
    };
    map.insert("refreshToken".into(), Value::String(refresh));
    if let Some(at) = creds.expires_at {
        map.insert("expiresAt".into(), Value::String(format_time(at)));
    }
    if let Some(arn) = &creds.profile_arn {
        map.insert("profileArn".into(), Value::String(arn.clone()));
    }
    if let Source::Env { .. } = source {
        if let Some(seed) = env_seed {
            map.insert(SEED_KEY.into(), Value::String(seed_of(seed)));
        }
        map.entry("region")
            .or_insert_with(|| Value::String(creds.region.clone()));
        map.entry("authMethod")
            .or_insert_with(|| Value::String("social".into()));
    }
    let mut data = serde_json::to_vec_pretty(&Value::Object(map))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    data.push(b'\n');
    write_private_atomic(path, &data)
}

fn seed_of(refresh_token: &str) -> String {
    let digest = Sha256::digest(format!("conduit-seed:{refresh_token}"));
    hex::encode(&digest[..16])
}

/// RFC3339 with any fraction (kiro-cli writes nanoseconds).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The Kiro IDE's own shape: UTC, milliseconds, `Z` (the same as cooldowns are written in).
pub use conduit_upstream::clock::format_time;
