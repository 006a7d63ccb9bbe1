//! Finishing a sign-in or an import: writing conduit's own token file (`kiro-auth-token.json`
//! format, 0600, atomic; long-lived secrets in the keychain when that is the store) and the
//! account's entry in the registry.

use std::path::{Path, PathBuf};

use conduit_core::fsutil::write_private_atomic;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::format_time;
use super::kind::AccountKind;
use super::registry::{now_rfc3339, AccountEntry, AccountSource, Registry};
use super::store::{self, SecretBackend};
use crate::config::{region_of_profile_arn, BUILDER_ID_START_URL};

/// Everything a new account's token file holds. Secrets are plain here; [`save_account`]
/// decides where they go.
#[derive(Clone)]
pub struct NewAccount {
    pub source: AccountSource,
    pub label: String,
    pub access_token: Option<String>,
    pub refresh_token: String,
    pub expires_at: Option<OffsetDateTime>,
    pub profile_arn: Option<String>,
    /// The SSO / auth region.
    pub region: String,
    /// `IdC` (OIDC refresh with the client below), `social` or `external_idp`.
    pub auth_method: &'static str,
    /// Recorded as `accountKind`; decides the profile ARN a chat call carries.
    pub kind: AccountKind,
    pub provider: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_expires_at: Option<OffsetDateTime>,
    pub start_url: Option<String>,
    /// Extra keys (e.g. where an import came from), written as they are.
    pub extra: Map<String, Value>,
}

/// The provider name the Kiro IDE writes for an OIDC login with this start URL.
pub fn provider_for(start_url: &str) -> &'static str {
    if start_url.trim_end_matches('/') == BUILDER_ID_START_URL {
        "BuilderId"
    } else {
        "Enterprise"
    }
}

/// Writes the token file and registers the account (replacing the tokens of the same account
/// signed in before). Returns the registry entry.
pub fn save_account(
    data_dir: &Path,
    backend: SecretBackend,
    account: &NewAccount,
) -> Result<AccountEntry, String> {
    let mut registry = Registry::load(data_dir)?;
    let existing = registry
        .find_same(
            account.source,
            &account.label,
            account.profile_arn.as_deref(),
        )
        .cloned();
    let (id, token_file) = match &existing {
        Some(e) => (e.id.clone(), e.token_file.clone()),
        None => registry.allocate(data_dir),
    };
    let token_file = absolute(token_file);
    write_token_file(&token_file, &id, backend, account)?;
    let entry = AccountEntry {
        id,
        label: account.label.clone(),
        source: account.source,
        token_file,
        profile_arn: account.profile_arn.clone(),
        kind: Some(account.kind),
        added_at: existing.map_or_else(now_rfc3339, |e| e.added_at),
        enabled: true,
    };
    registry.upsert(entry.clone());
    registry
        .save(data_dir)
        .map_err(|e| format!("cannot write the account registry: {e}"))?;
    Ok(entry)
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

fn write_token_file(
    path: &Path,
    id: &str,
    backend: SecretBackend,
    a: &NewAccount,
) -> Result<(), String> {
    let mut map = a.extra.clone();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_string(), v);
    };
    if let Some(t) = &a.access_token {
        put("accessToken", json!(t));
    }
    put(
        "refreshToken",
        json!(store::put(backend, id, "refreshToken", &a.refresh_token)?),
    );
    if let Some(t) = a.expires_at {
        put("expiresAt", json!(format_time(t)));
    }
    if let Some(arn) = &a.profile_arn {
        put("profileArn", json!(arn));
        if let Some(r) = region_of_profile_arn(arn) {
            put("apiRegion", json!(r));
        }
    }
    put("region", json!(a.region));
    put("authMethod", json!(a.auth_method));
    put("accountKind", json!(a.kind.as_str()));
    if let Some(p) = &a.provider {
        put("provider", json!(p));
    }
    if let Some(c) = &a.client_id {
        put("clientId", json!(c));
    }
    if let Some(s) = &a.client_secret {
        put(
            "clientSecret",
            json!(store::put(backend, id, "clientSecret", s)?),
        );
    }
    if let Some(t) = a.client_secret_expires_at {
        put("clientSecretExpiresAt", json!(format_time(t)));
    }
    if let Some(u) = &a.start_url {
        put("startUrl", json!(u));
    }
    put("conduitAccountId", json!(id));
    // Marks this sign-in: a suspension recorded for an older one is lifted (accounts/).
    put("signedInAt", json!(now_rfc3339()));
    let mut data = serde_json::to_vec_pretty(&Value::Object(map)).map_err(|e| e.to_string())?;
    data.push(b'\n');
    write_private_atomic(path, &data)
        .map_err(|e| format!("cannot write the token file {}: {e}", path.display()))
}
