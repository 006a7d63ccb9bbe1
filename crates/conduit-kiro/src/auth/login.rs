//! One sign-in from start to saved account, shared by `conduit login` and `GET /login`:
//! start the device flow, (the caller shows the code and polls), discover the profile, save.

use std::path::PathBuf;

use super::device::{DeviceError, DeviceFlow, DeviceTokens, Registration};
use super::kind::AccountKind;
use super::profiles::{self, Choice, Profile};
use super::registry::{AccountEntry, AccountSource};
use super::signin::{provider_for, save_account, NewAccount};
use super::store::{self, SecretBackend};
use crate::config::KiroConfig;

/// What a sign-in needs, taken from the Kiro configuration.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    pub start_url: String,
    /// The SSO region (not the API region).
    pub sso_region: String,
    pub oidc_url: String,
    pub data_dir: PathBuf,
    pub backend: SecretBackend,
    /// `PROFILE_ARN`: which profile to take when there are several.
    pub profile_arn: Option<String>,
    /// Why the keychain is not used, if it was asked for.
    pub backend_note: Option<String>,
}

impl LoginSettings {
    pub fn from_config(c: &KiroConfig) -> Self {
        let sso_region = c.sso_region();
        let (backend, backend_note) = store::resolve(c.secret_store);
        Self {
            start_url: c.sso_start_url.clone(),
            oidc_url: c.sso_oidc_url_for(&sso_region),
            sso_region,
            data_dir: c.data_dir.clone(),
            backend,
            profile_arn: c.profile_arn.clone(),
            backend_note,
        }
    }

    /// Starts the device authorization.
    pub async fn begin(&self, http: &reqwest::Client) -> Result<DeviceFlow, DeviceError> {
        DeviceFlow::start(
            http,
            &self.oidc_url,
            &self.sso_region,
            &self.start_url,
            &self.data_dir,
            self.backend,
        )
        .await
    }
}

/// Lists the profiles the new token can use and picks one where nothing needs asking.
pub async fn discover_profile(
    http: &reqwest::Client,
    config: &KiroConfig,
    settings: &LoginSettings,
    tokens: &DeviceTokens,
) -> Result<Choice, String> {
    let found = profiles::list_profiles(
        http,
        config,
        &tokens.access_token,
        false,
        &settings.sso_region,
    )
    .await?;
    profiles::choose(found, settings.profile_arn.as_deref())
}

/// Saves the signed-in account (token file 0600 + registry entry).
pub fn save(
    settings: &LoginSettings,
    registration: &Registration,
    tokens: &DeviceTokens,
    profile: Option<&Profile>,
) -> Result<AccountEntry, String> {
    let label = match profile {
        Some(p) if !p.name.is_empty() => format!("{} / {}", settings.start_url, p.name),
        _ => settings.start_url.clone(),
    };
    let account = NewAccount {
        source: AccountSource::Device,
        label,
        access_token: Some(tokens.access_token.clone()),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: Some(tokens.expires_at),
        profile_arn: profile.map(|p| p.arn.clone()),
        region: settings.sso_region.clone(),
        auth_method: "IdC",
        kind: if provider_for(&settings.start_url) == "BuilderId" {
            AccountKind::BuilderId
        } else {
            AccountKind::Idc
        },
        provider: Some(provider_for(&settings.start_url).to_string()),
        client_id: Some(registration.client_id.clone()),
        client_secret: Some(registration.client_secret.clone()),
        client_secret_expires_at: Some(registration.expires_at),
        start_url: Some(settings.start_url.clone()),
        extra: serde_json::Map::new(),
    };
    save_account(&settings.data_dir, settings.backend, &account)
}
