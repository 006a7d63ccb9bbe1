//! Importing an account from the Kiro IDE token file or the kiro-cli database.
//!
//! Imports are **copies**: the tokens go into conduit's own token file, so conduit and the
//! other program never write each other's files. They still share one refresh-token chain, and
//! OIDC refresh tokens rotate: whoever refreshes first kills the other's token. The copy keeps
//! where it came from (`importedFrom`, `importedKind`) and a hash of the refresh token it was
//! taken with (`importedRefreshHash`). When conduit's refresh is refused, [`from_origin`]
//! re-reads the origin; if the IDE / kiro-cli rotated since (the hash differs), conduit takes
//! the newer tokens and tries once more (spec §1.3 concurrency rule).

use std::fs;
use std::path::Path;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::kind::AccountKind;
use super::registry::{AccountEntry, AccountSource};
use super::signin::{save_account, NewAccount};
use super::sqlite::{read_kiro_cli, CliLogin};
use super::store::SecretBackend;
use super::{file, parse_time, AuthMethod, Creds};
use crate::config::DEFAULT_REGION;

const FROM: &str = "importedFrom";
const KIND: &str = "importedKind";
const HASH: &str = "importedRefreshHash";

fn hash(refresh_token: &str) -> String {
    hex::encode(&Sha256::digest(format!("conduit-import:{refresh_token}"))[..16])
}

fn origin(kind: &str, path: &Path, refresh_token: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(FROM.into(), json!(path.display().to_string()));
    m.insert(KIND.into(), json!(kind));
    m.insert(HASH.into(), json!(hash(refresh_token)));
    m
}

/// kiro-cli's newer token file in `~/.aws/sso/cache` (same shape as the IDE's).
pub const CLI_TOKEN_FILE: &str = "kiro-auth-token-cli.json";

/// Copies the sign-in of a Kiro IDE token file (also kiro-cli's `kiro-auth-token-cli.json` and
/// an Entra ID token file, see [`super::idp`]) (with its `{clientIdHash}.json` client for IdC).
pub fn import_ide(
    path: &Path,
    data_dir: &Path,
    backend: SecretBackend,
) -> Result<AccountEntry, String> {
    let creds = file::read_token_file(path, DEFAULT_REGION)?;
    let raw: Value = fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let provider = raw
        .get("provider")
        .and_then(Value::as_str)
        .map(str::to_string);
    let cli_file = path.file_name().and_then(|n| n.to_str()) == Some(CLI_TOKEN_FILE);
    let origin_name = match (creds.kind, cli_file) {
        (AccountKind::ExternalIdp, _) => "Entra ID",
        (_, true) => "kiro-cli",
        (_, false) => "Kiro IDE",
    };
    let who = match creds.kind {
        AccountKind::ExternalIdp => creds
            .idp
            .as_ref()
            .and_then(|i| i.tenant.clone())
            .unwrap_or_else(|| "tenant".into()),
        _ => provider.clone().unwrap_or_else(|| "login".into()),
    };
    let account = NewAccount {
        source: if cli_file {
            AccountSource::KiroCli
        } else {
            AccountSource::Ide
        },
        label: format!(
            "{origin_name} {who} / {}",
            creds.profile_arn.as_deref().unwrap_or("no profile")
        ),
        extra: {
            let mut extra = idp_keys(&creds);
            extra.extend(origin("ide", path, &creds.refresh_token));
            extra
        },
        provider,
        ..from_creds(&creds)
    };
    save_account(data_dir, backend, &account)
}

/// Copies the preferred sign-in of a kiro-cli / Amazon Q database.
pub fn import_kiro_cli(
    db: &Path,
    data_dir: &Path,
    backend: SecretBackend,
) -> Result<AccountEntry, String> {
    let login = read_kiro_cli(db)?;
    let account = cli_account(&login, db)?;
    save_account(data_dir, backend, &account)
}

fn cli_account(login: &CliLogin, db: &Path) -> Result<NewAccount, String> {
    let refresh_token = login
        .token_field("refresh_token", "refreshToken")
        .ok_or("the kiro-cli sign-in has no refresh token")?;
    let client_id = login.registration_field("client_id", "clientId");
    let client_secret = login.registration_field("client_secret", "clientSecret");
    let idc = !login.is_social() && client_id.is_some() && client_secret.is_some();
    let start_url = login.token_field("start_url", "startUrl");
    let profile_arn = login
        .token_field("profile_arn", "profileArn")
        .or_else(|| login.profile.as_ref().map(|(arn, _)| arn.clone()));
    let profile_name = login
        .profile
        .as_ref()
        .map(|(_, n)| n.clone())
        .unwrap_or_default();
    let kind = if idc {
        AccountKind::derive(
            Some("IdC"),
            None,
            start_url.as_deref(),
            true,
            profile_arn.as_deref(),
        )
    } else {
        AccountKind::Social
    };
    Ok(NewAccount {
        kind,
        source: AccountSource::KiroCli,
        label: format!(
            "kiro-cli {} / {}",
            start_url.as_deref().unwrap_or("social"),
            if profile_name.is_empty() {
                "no profile"
            } else {
                &profile_name
            }
        ),
        access_token: login.token_field("access_token", "accessToken"),
        expires_at: login
            .token_field("expires_at", "expiresAt")
            .and_then(|t| parse_time(&t)),
        profile_arn,
        region: login
            .token_field("region", "region")
            .or_else(|| login.registration_field("region", "region"))
            .unwrap_or_else(|| DEFAULT_REGION.to_string()),
        auth_method: if idc { "IdC" } else { "social" },

        provider: Some(if idc { "BuilderId" } else { "Social" }.to_string()),
        client_id: client_id.filter(|_| idc),
        client_secret: client_secret.filter(|_| idc),
        client_secret_expires_at: login
            .registration_field("client_secret_expires_at", "clientSecretExpiresAt")
            .and_then(|t| parse_time(&t)),
        start_url,
        extra: origin("kiro-cli", db, &refresh_token),
        refresh_token,
    })
}

fn from_creds(c: &Creds) -> NewAccount {
    NewAccount {
        source: AccountSource::Ide,
        label: String::new(),
        access_token: c.access_token.clone(),
        refresh_token: c.refresh_token.clone(),
        expires_at: c.expires_at,
        profile_arn: c.profile_arn.clone(),
        region: c.region.clone(),
        auth_method: match c.method {
            AuthMethod::Idc => "IdC",
            AuthMethod::Social => "social",
            AuthMethod::ExternalIdp => "external_idp",
        },
        kind: c.kind,
        provider: None,
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
        client_secret_expires_at: None,
        start_url: c.start_url.clone(),
        extra: idp_keys(c),
    }
}

/// The Entra ID keys of an imported token file, kept in conduit's copy.
fn idp_keys(c: &Creds) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(i) = &c.idp {
        for (k, v) in [
            ("idpTokenUrl", &i.token_url),
            ("tenantId", &i.tenant),
            ("scope", &i.scope),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
    }
    m
}

/// Newer tokens from the program an imported token file was copied from, if it rotated them
/// since. The token file's origin hash is moved on, so the same rotation is taken only once.
pub(crate) fn from_origin(token_file: &Path, default_region: &str) -> Option<Creds> {
    let mut map: Map<String, Value> =
        serde_json::from_str(&fs::read_to_string(token_file).ok()?).ok()?;
    let from = map.get(FROM)?.as_str()?.to_string();
    let kind = map.get(KIND)?.as_str()?.to_string();
    let seen = map.get(HASH)?.as_str()?.to_string();
    let fresh = match kind.as_str() {
        "ide" => file::read_token_file(Path::new(&from), default_region).ok()?,
        "kiro-cli" => {
            let login = read_kiro_cli(Path::new(&from)).ok()?;
            let a = cli_account(&login, Path::new(&from)).ok()?;
            Creds {
                kind: a.kind,
                start_url: a.start_url,
                idp: None,
                access_token: a.access_token,
                refresh_token: a.refresh_token,
                expires_at: a.expires_at,
                profile_arn: a.profile_arn,
                region: a.region,
                method: if a.auth_method == "IdC" {
                    AuthMethod::Idc
                } else {
                    AuthMethod::Social
                },
                client_id: a.client_id,
                client_secret: a.client_secret,
            }
        }
        _ => return None,
    };
    if hash(&fresh.refresh_token) == seen {
        return None;
    }
    map.insert(HASH.into(), json!(hash(&fresh.refresh_token)));
    let data = serde_json::to_vec_pretty(&Value::Object(map)).ok()?;
    conduit_core::fsutil::write_private_atomic(token_file, &data).ok()?;
    Some(fresh)
}
