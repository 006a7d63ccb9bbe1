//! What an account's credentials say beyond the token: the profile ARN of an IdC or Entra ID
//! account, discovered through ListAvailableProfiles on first use (spec §9.2), and a
//! fingerprint of the sign-in (a suspension is lifted only by a new one).

use std::time::Duration;

use tokio::time::Instant;

use super::{file, profiles, Auth, Source, Token};

/// A failed profile discovery is not repeated for this long.
const DISCOVERY_BACKOFF: Duration = Duration::from_secs(60);

impl Auth {
    /// `token` with its profile ARN: an IdC or Entra ID account whose ARN is not known yet
    /// asks ListAvailableProfiles (spec §9.2) once and saves the answer in its token file. When
    /// that finds nothing the token is returned as it is; the call then fails with a message
    /// that says how to set the ARN.
    pub async fn with_profile(&self, token: Token) -> Token {
        if token.profile_arn.is_some() || !token.kind.discovers_profile() {
            return token;
        }
        let mut failed_at = self.inner.discovery.lock().await;
        if let Some(arn) = self
            .inner
            .lock()
            .creds
            .as_ref()
            .and_then(|c| c.profile_arn.clone())
        {
            return Token {
                profile_arn: token.kind.chat_arn(Some(&arn)),
                ..token
            };
        }
        if failed_at.is_some_and(|t| t.elapsed() < DISCOVERY_BACKOFF) {
            return token;
        }
        let sso_region = self
            .inner
            .lock()
            .creds
            .as_ref()
            .map_or_else(|| self.inner.config.region.clone(), |c| c.region.clone());
        let found = profiles::list_profiles(
            &self.inner.http,
            &self.inner.config,
            &token.access_token,
            token.kind.external_idp(),
            &sso_region,
        )
        .await;
        let arn = match found.map(|f| profiles::choose(f, None)) {
            Ok(Ok(profiles::Choice::Use(p))) => p.arn,
            Ok(Ok(profiles::Choice::Ask(list))) => {
                tracing::warn!(profiles = %profiles::describe(&list), "several CodeWhisperer profiles; using the first (set PROFILE_ARN to choose)");
                list[0].arn.clone()
            }
            Ok(Ok(profiles::Choice::None)) | Ok(Err(_)) => {
                tracing::warn!(kind = %token.kind, "ListAvailableProfiles found no profile for this account");
                *failed_at = Some(Instant::now());
                return token;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not discover the CodeWhisperer profile");
                *failed_at = Some(Instant::now());
                return token;
            }
        };
        tracing::info!(profile_arn = %arn, "discovered the CodeWhisperer profile");
        let saved = {
            let mut st = self.inner.lock();
            let source = st.source.clone();
            match (st.creds.as_mut(), source) {
                (Some(c), Some(src)) => {
                    c.profile_arn = Some(arn.clone());
                    Some((c.clone(), src))
                }
                _ => None,
            }
        };
        if let Some((creds, source)) = saved {
            let written =
                tokio::task::spawn_blocking(move || file::write_back(&source, &creds, None)).await;
            if !matches!(written, Ok(Ok(()))) {
                tracing::warn!("could not save the discovered profile ARN in the token file");
            }
        }
        Token {
            profile_arn: token.kind.chat_arn(Some(&arn)),
            ..token
        }
    }

    /// A hash of the sign-in the credentials come from (`signedInAt` in the token file, which
    /// only a sign-in or import writes; our own refreshes do not change it): changes when
    /// someone signs the account in again. Never contains a secret.
    pub fn fingerprint(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let (source, memory) = {
            let st = self.inner.lock();
            (
                st.source.clone(),
                st.creds.as_ref().map(|c| c.refresh_token.clone()),
            )
        };
        let material = match source {
            Some(Source::File(path)) => {
                let v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
                match v.get("signedInAt") {
                    Some(at) => at.to_string(),
                    None => v.get("refreshToken")?.to_string(),
                }
            }
            _ => memory?,
        };
        Some(hex::encode(
            &Sha256::digest(format!("conduit-fp:{material}"))[..12],
        ))
    }
}
