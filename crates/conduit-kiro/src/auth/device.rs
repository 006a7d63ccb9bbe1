//! RFC 8628 device authorization through AWS SSO OIDC (spec §2.1–2.3): RegisterClient (cached
//! in `data/client_registration.json`, registered again near expiry), StartDeviceAuthorization,
//! and CreateToken polling with `authorization_pending` / `slow_down` / `expired_token` /
//! `access_denied`. One [`DeviceFlow`] is one sign-in attempt; the CLI and `GET /login` both
//! drive it.

use std::fs;
use std::path::Path;
use std::time::Duration;

use conduit_core::fsutil::write_private_atomic;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::store::{self, SecretBackend};

/// The registration cache inside the data dir.
pub const REGISTRATION_FILE: &str = "client_registration.json";
/// The CodeWhisperer scopes (spec §2.1); `sso:account:access` must not be asked for.
pub const SCOPES: [&str; 3] = [
    "codewhisperer:completions",
    "codewhisperer:analysis",
    "codewhisperer:conversations",
];
const CLIENT_NAME: &str = "conduit";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A cached registration this close to expiry is replaced.
const REGISTRATION_MARGIN: time::Duration = time::Duration::days(1);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a sign-in stopped. Every message says what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("the sign-in code expired before it was approved: run `conduit login` again and approve within the time shown")]
    Expired,
    #[error("the sign-in was denied in the browser: run `conduit login` again and choose Allow")]
    Denied,
    #[error("AWS SSO did not accept this client ({0}): run `conduit login` again (a new client is registered)")]
    InvalidClient(String),
    #[error(
        "cannot reach AWS SSO OIDC at {url} ({detail}): check CONDUIT_SSO_REGION and your network"
    )]
    Unreachable { url: String, detail: String },
    #[error("AWS SSO OIDC refused the request: {0}")]
    Refused(String),
}

/// An OIDC client registration.
#[derive(Clone)]
pub struct Registration {
    pub client_id: String,
    pub client_secret: String,
    pub expires_at: OffsetDateTime,
    pub region: String,
}

/// What the person must see.
#[derive(Debug, Clone, Serialize)]
pub struct Prompt {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds until the code expires.
    pub expires_in: u64,
}

/// Tokens from a completed sign-in.
#[derive(Clone)]
pub struct DeviceTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: OffsetDateTime,
}

/// The result of one CreateToken poll.
pub enum Poll {
    Pending,
    SlowDown,
    Done(DeviceTokens),
}

/// One sign-in attempt.
pub struct DeviceFlow {
    http: reqwest::Client,
    oidc_url: String,
    pub registration: Registration,
    device_code: String,
    pub prompt: Prompt,
    interval: Duration,
    deadline: tokio::time::Instant,
}

impl DeviceFlow {
    /// Registers (or reuses the cached client) and starts the device authorization.
    pub async fn start(
        http: &reqwest::Client,
        oidc_url: &str,
        region: &str,
        start_url: &str,
        data_dir: &Path,
        backend: SecretBackend,
    ) -> Result<DeviceFlow, DeviceError> {
        let mut registration = registration(http, oidc_url, region, data_dir, backend).await?;
        let body = |r: &Registration| json!({"clientId": r.client_id, "clientSecret": r.client_secret, "startUrl": start_url});
        let v = match call(
            http,
            oidc_url,
            "/device_authorization",
            &body(&registration),
        )
        .await
        {
            // A cached client AWS no longer knows: register a new one, once.
            Err(DeviceError::InvalidClient(_)) => {
                let _ = fs::remove_file(data_dir.join(REGISTRATION_FILE));
                registration =
                    self::registration(http, oidc_url, region, data_dir, backend).await?;
                call(
                    http,
                    oidc_url,
                    "/device_authorization",
                    &body(&registration),
                )
                .await?
            }
            other => other?,
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(device_code), Some(user_code), Some(verification_uri)) =
            (s("deviceCode"), s("userCode"), s("verificationUri"))
        else {
            return Err(DeviceError::Refused(
                "StartDeviceAuthorization answered without a device code".into(),
            ));
        };
        let expires_in = v.get("expiresIn").and_then(Value::as_u64).unwrap_or(600);
        let interval = v
            .get("interval")
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .max(1);
        Ok(DeviceFlow {
            http: http.clone(),
            oidc_url: oidc_url.to_string(),
            registration,
            device_code,
            prompt: Prompt {
                user_code,
                verification_uri,
                verification_uri_complete: s("verificationUriComplete"),
                expires_in,
            },
            interval: Duration::from_secs(interval),
            deadline: tokio::time::Instant::now() + Duration::from_secs(expires_in),
        })
    }

    /// How long to wait before the next poll.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// One CreateToken call. `slow_down` adds 5 s to the interval (RFC 8628 §3.5).
    pub async fn poll(&mut self) -> Result<Poll, DeviceError> {
        if tokio::time::Instant::now() >= self.deadline {
            return Err(DeviceError::Expired);
        }
        let body = json!({"clientId": self.registration.client_id,
            "clientSecret": self.registration.client_secret,
            "grantType": DEVICE_GRANT, "deviceCode": self.device_code});
        match call(&self.http, &self.oidc_url, "/token", &body).await {
            Ok(v) => {
                let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                let (Some(access_token), Some(refresh_token)) =
                    (s("accessToken"), s("refreshToken"))
                else {
                    return Err(DeviceError::Refused(
                        "CreateToken answered without tokens".into(),
                    ));
                };
                let expires_in = v.get("expiresIn").and_then(Value::as_i64).unwrap_or(3600);
                Ok(Poll::Done(DeviceTokens {
                    access_token,
                    refresh_token,
                    expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(expires_in),
                }))
            }
            Err(DeviceError::Refused(code)) if code == "authorization_pending" => Ok(Poll::Pending),
            // A 429 from the token endpoint is throttling too (spec §9.3): poll more slowly.
            Err(DeviceError::Refused(code)) if code == "slow_down" || code == "HTTP 429" => {
                self.interval += Duration::from_secs(5);
                Ok(Poll::SlowDown)
            }
            Err(e) => Err(e),
        }
    }

    /// Polls at the interval until the person approves, denies, or the code expires.
    pub async fn wait(
        &mut self,
        mut on_poll: impl FnMut(&Poll),
    ) -> Result<DeviceTokens, DeviceError> {
        loop {
            tokio::time::sleep(self.interval).await;
            let p = self.poll().await?;
            on_poll(&p);
            if let Poll::Done(t) = p {
                return Ok(t);
            }
        }
    }
}

/// The cached registration when it is for this region and not near expiry, else a new one
/// (saved 0600; the secret in the keychain when that is the backend).
pub async fn registration(
    http: &reqwest::Client,
    oidc_url: &str,
    region: &str,
    data_dir: &Path,
    backend: SecretBackend,
) -> Result<Registration, DeviceError> {
    let path = data_dir.join(REGISTRATION_FILE);
    if let Some(reg) = read_cached(&path) {
        if reg.region == region && reg.expires_at > OffsetDateTime::now_utc() + REGISTRATION_MARGIN
        {
            return Ok(reg);
        }
    }
    let body = json!({"clientName": CLIENT_NAME, "clientType": "public", "scopes": SCOPES});
    let v = call(http, oidc_url, "/client/register", &body).await?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(client_id), Some(client_secret)) = (s("clientId"), s("clientSecret")) else {
        return Err(DeviceError::Refused(
            "RegisterClient answered without a client id".into(),
        ));
    };
    let expires_at = v
        .get("clientSecretExpiresAt")
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or_else(|| OffsetDateTime::now_utc() + time::Duration::days(90));
    let reg = Registration {
        client_id,
        client_secret,
        expires_at,
        region: region.to_string(),
    };
    if let Err(e) = save_cached(&path, &reg, backend) {
        tracing::warn!(error = %e, "could not cache the OIDC client registration");
    }
    Ok(reg)
}

fn read_cached(path: &Path) -> Option<Registration> {
    let v: Value = serde_json::from_str(&fs::read_to_string(path).ok()?).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Registration {
        client_id: s("clientId")?,
        client_secret: store::reveal(&s("clientSecret")?).ok()?,
        expires_at: super::parse_time(&s("expiresAt")?)?,
        region: s("region")?,
    })
}

fn save_cached(path: &Path, reg: &Registration, backend: SecretBackend) -> Result<(), String> {
    let secret = store::put(
        backend,
        "client-registration",
        "clientSecret",
        &reg.client_secret,
    )?;
    let v = json!({"clientId": reg.client_id, "clientSecret": secret,
        "expiresAt": super::format_time(reg.expires_at), "region": reg.region, "scopes": SCOPES});
    let data = serde_json::to_vec_pretty(&v).map_err(|e| e.to_string())?;
    write_private_atomic(path, &data).map_err(|e| e.to_string())
}

/// One AWS rest-json call. Errors carry the OAuth `error` code (spec §2.3: keyed on the body's
/// `error`, whatever the status).
async fn call(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Value,
) -> Result<Value, DeviceError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response = http
        .post(&url)
        .json(body)
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .map_err(|e| DeviceError::Unreachable {
            url: url.clone(),
            detail: e.without_url().to_string(),
        })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| DeviceError::Unreachable {
            url: url.clone(),
            detail: e.without_url().to_string(),
        })?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let error = v.get("error").and_then(Value::as_str).map(str::to_string);
    match (status.is_success(), error.as_deref()) {
        (true, None) => Ok(v),
        (_, Some("expired_token")) => Err(DeviceError::Expired),
        (_, Some("access_denied")) => Err(DeviceError::Denied),
        (_, Some("invalid_client")) | (_, Some("unauthorized_client")) => {
            Err(DeviceError::InvalidClient(error.unwrap_or_default()))
        }
        (_, Some(code)) => Err(DeviceError::Refused(code.to_string())),
        (false, None) => Err(DeviceError::Refused(format!("HTTP {}", status.as_u16()))),
    }
}
