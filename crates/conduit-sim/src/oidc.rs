//! AWS SSO OIDC (RegisterClient, StartDeviceAuthorization, CreateToken; spec §1.5, §2.1–2.3)
//! and the Kiro desktop refresh endpoint (spec §1.4).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::accounts::{random_alnum, Issued};
use crate::errors;
use crate::model::{Account, AccountKind, HttpError};
use crate::state::{ApproveOptions, DeviceAuth, DeviceStatus, Shared, State as SimState};

/// The AWS Builder ID start URL; any other start URL means IAM Identity Center.
pub const BUILDER_ID_START_URL: &str = "https://view.awsapps.com/start";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

type Answer = Result<serde_json::Value, HttpError>;

fn respond(a: Answer) -> Response {
    match a {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, HttpError> {
    serde_json::from_slice(body)
        .map_err(|e| errors::oidc_invalid_request(&format!("Invalid request body: {e}")))
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterReq {
    client_name: Option<String>,
    client_type: Option<String>,
}

/// `POST /client/register`.
pub(crate) async fn register(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(parse::<RegisterReq>(&body).and_then(|req| {
        if req.client_name.as_deref().is_none_or(str::is_empty) {
            return Err(errors::oidc_invalid_request("clientName is required"));
        }
        if req.client_type.as_deref() != Some("public") {
            return Err(errors::oidc_invalid_request("Invalid clientType"));
        }
        let id = random_alnum(22);
        let secret = random_alnum(160);
        shared.with(|s| {
            s.clients.insert(
                id.clone(),
                crate::state::ClientReg {
                    secret: secret.clone(),
                },
            )
        });
        let now = epoch_secs();
        Ok(json!({
            "clientId": id,
            "clientIdIssuedAt": now,
            "clientSecret": secret,
            "clientSecretExpiresAt": now + 90 * 86_400
        }))
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceReq {
    client_id: Option<String>,
    client_secret: Option<String>,
    start_url: Option<String>,
}

fn user_code() -> String {
    let mut rng = rand::rng();
    let mut letter = || char::from(b'A' + rng.random_range(0..26u8));
    let a: String = (0..4).map(|_| letter()).collect();
    let b: String = (0..4).map(|_| letter()).collect();
    format!("{a}-{b}")
}

/// `POST /device_authorization`.
pub(crate) async fn device_authorization(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Response {
    respond(parse::<DeviceReq>(&body).and_then(|req| {
        let (Some(id), Some(secret), Some(start_url)) =
            (req.client_id, req.client_secret, req.start_url)
        else {
            return Err(errors::oidc_invalid_request(
                "clientId, clientSecret and startUrl are required",
            ));
        };
        shared.with(|s| {
            s.check_client(&id, &secret)?;
            let device_code = random_alnum(64);
            let code = user_code();
            let (interval, expires_in) = (s.config.device_interval, s.config.device_expires_in);
            s.devices.insert(
                device_code.clone(),
                DeviceAuth {
                    user_code: code.clone(),
                    client_id: id,
                    start_url,
                    status: DeviceStatus::Pending,
                    expires_at: Instant::now() + Duration::from_secs(expires_in),
                    interval,
                    last_poll: None,
                    approve: ApproveOptions::default(),
                },
            );
            let uri = format!("{}/_sim/device", s.base_url);
            Ok(json!({
                "deviceCode": device_code,
                "expiresIn": expires_in,
                "interval": interval,
                "userCode": code,
                "verificationUri": uri,
                "verificationUriComplete": format!("{uri}?user_code={code}")
            }))
        })
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenReq {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    refresh_token: Option<String>,
}

fn token_json(t: &Issued) -> serde_json::Value {
    json!({
        "accessToken": t.access_token,
        "expiresIn": t.expires_in,
        "refreshToken": t.refresh_token,
        "tokenType": "Bearer"
    })
}

/// `POST /token` (CreateToken).
pub(crate) async fn create_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(parse::<TokenReq>(&body).and_then(|req| {
        let (Some(id), Some(secret)) = (req.client_id.as_deref(), req.client_secret.as_deref())
        else {
            return Err(errors::oidc_invalid_request(
                "clientId and clientSecret are required",
            ));
        };
        shared.with(|s| {
            s.check_client(id, secret)?;
            match req.grant_type.as_deref() {
                Some(DEVICE_GRANT) => {
                    let code = req.device_code.as_deref().unwrap_or_default();
                    device_grant(s, id, code).map(|t| token_json(&t))
                }
                Some("refresh_token") if s.config.take_refresh_throttle() => {
                    Err(errors::refresh_throttled())
                }
                Some("refresh_token") if s.config.refresh_outage => {
                    Err(errors::token_service_down())
                }
                Some("refresh_token") => {
                    let rt = req.refresh_token.as_deref().unwrap_or_default();
                    refresh_grant(s, id, rt).map(|t| token_json(&t))
                }
                Some(_) => Err(errors::oidc(
                    400,
                    "unsupported_grant_type",
                    "Unsupported grant type.",
                    "UnsupportedGrantTypeException",
                )),
                None => Err(errors::oidc_invalid_request("grantType is required")),
            }
        })
    }))
}

fn device_grant(s: &mut SimState, client_id: &str, code: &str) -> Result<Issued, HttpError> {
    let now = Instant::now();
    let dev = s
        .devices
        .get_mut(code)
        .filter(|d| d.client_id == client_id)
        .ok_or_else(|| errors::oidc_invalid_grant("Invalid device code provided"))?;
    if now >= dev.expires_at {
        return Err(errors::oidc(
            400,
            "expired_token",
            "Device code has expired",
            "ExpiredTokenException",
        ));
    }
    let too_fast = dev
        .last_poll
        .is_some_and(|t| now.duration_since(t) < Duration::from_secs(dev.interval));
    dev.last_poll = Some(now);
    match dev.status {
        DeviceStatus::Denied => Err(errors::oidc(
            400,
            "access_denied",
            "Authorization was denied",
            "AccessDeniedException",
        )),
        DeviceStatus::Consumed => Err(errors::oidc_invalid_grant("Device code already used")),
        _ if too_fast => Err(errors::oidc(
            400,
            "slow_down",
            "Client is polling too quickly",
            "SlowDownException",
        )),
        DeviceStatus::Pending => Err(errors::oidc(
            400,
            "authorization_pending",
            "Authorization is still pending",
            "AuthorizationPendingException",
        )),
        DeviceStatus::Approved => {
            dev.status = DeviceStatus::Consumed;
            let kind = if dev.start_url == BUILDER_ID_START_URL {
                AccountKind::BuilderId
            } else {
                AccountKind::Idc
            };
            let opts = dev.approve.clone();
            let kind = opts.kind.unwrap_or(kind);
            Ok(new_device_account(s, client_id, kind, opts))
        }
    }
}

fn new_device_account(
    s: &mut SimState,
    client_id: &str,
    kind: AccountKind,
    opts: ApproveOptions,
) -> Issued {
    let ttl = s.config.issued_token_ttl;
    let profiles = opts
        .profiles
        .unwrap_or_else(|| s.config.device_profiles.clone());
    let mut spec = Account::new(String::new(), String::new())
        .with_kind(kind)
        .with_expires_in(ttl)
        .with_quota_exhausted(opts.quota_exhausted);
    spec.client_id = Some(client_id.to_owned());
    spec.profiles = profiles;
    let idx = s.accounts.len();
    s.accounts.push(crate::state::AccountState {
        spec,
        chat_requests: 0,
        credits: 0.0,
    });
    s.issue_tokens(idx, ttl)
}

fn refresh_grant(s: &mut SimState, client_id: &str, token: &str) -> Result<Issued, HttpError> {
    let dead = || errors::oidc_invalid_grant("Invalid refresh token provided");
    let account = s.live_refresh(token).ok_or_else(dead)?;
    let spec = &s.accounts.get(account).ok_or_else(dead)?.spec;
    let bound_ok = spec.client_id.as_deref().is_none_or(|c| c == client_id);
    if !spec.kind.uses_oidc() || !bound_ok {
        return Err(dead());
    }
    Ok(s.rotate(token, account))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DesktopReq {
    refresh_token: Option<String>,
}

/// `POST /refreshToken` (Kiro desktop / social).
pub(crate) async fn desktop_refresh(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(parse::<DesktopReq>(&body).and_then(|req| {
        let token = req
            .refresh_token
            .ok_or_else(|| errors::oidc_invalid_request("refreshToken is required"))?;
        shared.with(|s| {
            if s.config.take_refresh_throttle() {
                return Err(errors::refresh_throttled());
            }
            if s.config.refresh_outage {
                return Err(errors::token_service_down());
            }
            let account = s
                .live_refresh(&token)
                .filter(|a| {
                    s.accounts
                        .get(*a)
                        .is_some_and(|a| a.spec.kind == AccountKind::Social)
                })
                .ok_or_else(errors::desktop_invalid_grant)?;
            let issued = s.rotate(&token, account);
            let arn = s
                .accounts
                .get(account)
                .and_then(|a| a.spec.all_profiles().first().map(|p| p.arn.clone()));
            Ok(json!({
                "accessToken": issued.access_token,
                "expiresIn": issued.expires_in,
                "profileArn": arn,
                "refreshToken": issued.refresh_token
            }))
        })
    }))
}
