//! The three refresh calls: Kiro desktop (social, spec §1.4), the AWS SSO OIDC `refresh_token`
//! grant (Builder ID / IdC, spec §1.5) and the OAuth 2 grant at an Entra ID tenant (form-encoded
//! public client, spec §9.3). One HTTP call each, no retries here; the caller decides. A 429
//! from any of them is throttling, never a dead refresh token.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuthMethod, Creds};

/// Assumed when a refresh response carries no `expiresIn`.
const DEFAULT_EXPIRES_IN: i64 = 3600;

/// What a successful refresh returns.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access_token: String,
    /// Present when the service rotated it.
    pub refresh_token: Option<String>,
    pub expires_at: OffsetDateTime,
    pub profile_arn: Option<String>,
}

/// Why a refresh failed; `Dead` means the refresh token (or client) is no longer accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshError {
    Dead(String),
    Transient(String),
    /// The token endpoint answered 429: wait `retry_after` (its `Retry-After`) and try again.
    Throttled {
        message: String,
        retry_after: Option<Duration>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SocialBody<'a> {
    refresh_token: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OidcBody<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
    refresh_token: &'a str,
}

/// camelCase from Kiro and AWS, snake_case from an OAuth 2 IdP.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    #[serde(alias = "access_token")]
    access_token: Option<String>,
    #[serde(alias = "refresh_token")]
    refresh_token: Option<String>,
    #[serde(alias = "expires_in")]
    expires_in: Option<i64>,
    profile_arn: Option<String>,
}

/// Endpoints and identity for one refresh.
pub struct RefreshTarget<'a> {
    /// `https://prod.{region}.auth.desktop.kiro.dev` (social), `https://oidc.{region}.amazonaws.com`
    /// (OIDC), or for an Entra ID account the IdP's whole token endpoint.
    pub base_url: String,
    pub user_agent: &'a str,
    pub timeout: Duration,
}

/// Performs the refresh appropriate for `creds.method`.
pub async fn refresh(
    http: &reqwest::Client,
    target: &RefreshTarget<'_>,
    creds: &Creds,
) -> Result<Refreshed, RefreshError> {
    let request = match (creds.method, &creds.client_id, &creds.client_secret) {
        (AuthMethod::Idc, Some(id), Some(secret)) => http
            .post(format!("{}/token", target.base_url))
            .json(&OidcBody {
                client_id: id,
                client_secret: secret,
                grant_type: "refresh_token",
                refresh_token: &creds.refresh_token,
            }),
        (AuthMethod::ExternalIdp, Some(id), _) => {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", id.as_str()),
                ("refresh_token", creds.refresh_token.as_str()),
            ];
            if let Some(scope) = creds.idp.as_ref().and_then(|i| i.scope.as_deref()) {
                form.push(("scope", scope));
            }
            http.post(&target.base_url).form(&form)
        }
        (AuthMethod::ExternalIdp, None, _) => {
            return Err(RefreshError::Dead(
                "the Entra ID token file has no clientId; import it again with its clientId".into(),
            ))
        }
        _ => http
            .post(format!("{}/refreshToken", target.base_url))
            .json(&SocialBody {
                refresh_token: &creds.refresh_token,
            }),
    };
    let response = request
        .header(reqwest::header::USER_AGENT, target.user_agent)
        .timeout(target.timeout)
        .send()
        .await
        .map_err(|e| RefreshError::Transient(format!("could not reach the token service: {e}")))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    let body = response
        .text()
        .await
        .map_err(|e| RefreshError::Transient(format!("the token service reply was cut: {e}")))?;
    if !status.is_success() {
        return Err(match classify_failure(status.as_u16(), &body) {
            RefreshError::Throttled { message, .. } => RefreshError::Throttled {
                message,
                retry_after,
            },
            other => other,
        });
    }
    let parsed: TokenResponse = serde_json::from_str(&body).map_err(|_| {
        RefreshError::Transient(
            "the token service answered with something that is not a token".into(),
        )
    })?;
    let access_token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            RefreshError::Transient("the token service answered without an accessToken".into())
        })?;
    let expires_in = parsed
        .expires_in
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_EXPIRES_IN);
    Ok(Refreshed {
        access_token,
        refresh_token: parsed.refresh_token.filter(|t| !t.is_empty()),
        expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(expires_in),
        profile_arn: parsed.profile_arn.filter(|a| !a.is_empty()),
    })
}

/// 400/401 (invalid_grant, invalid client, expired token) mean the credential is dead; 408, 429
/// and 5xx are worth another try later. The reason is taken from the JSON body's `error`.
pub fn classify_failure(status: u16, body: &str) -> RefreshError {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let reason = field("error")
        .or_else(|| field("error_description"))
        .or_else(|| field("message"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        429 => RefreshError::Throttled {
            message: format!("the token service is throttling refreshes ({reason})"),
            retry_after: None,
        },
        408 | 500..=599 => RefreshError::Transient(format!("the token service failed ({reason})")),
        _ => RefreshError::Dead(format!(
            "the token service refused the refresh token ({reason})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_failures_are_classified_by_status_and_body() {
        let cases = [
            (
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid refresh token provided"}"#,
                true,
                "invalid_grant",
            ),
            (401, r#"{"error":"invalid_client"}"#, true, "invalid_client"),
            (429, r#"{"message":"slow down"}"#, false, "slow down"),
            (503, "", false, "HTTP 503"),
        ];
        for (status, body, dead, needle) in cases {
            let got = classify_failure(status, body);
            let (is_dead, text) = match &got {
                RefreshError::Dead(t) => (true, t),
                RefreshError::Transient(t) => (false, t),
                RefreshError::Throttled { message, .. } => (false, message),
            };
            assert_eq!(is_dead, dead, "{status} {body}");
            assert!(text.contains(needle), "{text}");
        }
    }
}
