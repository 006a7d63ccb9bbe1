//! `POST /oauth/device_authorization` (RFC 8628 §3.1–3.2): a device code for the CLI to poll
//! with and a user code for the person to type at `/device`. Only SHA-256 digests of both are
//! stored. 30 requests per client address per 10 minutes.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use conduit_store::StoreError;
use serde_json::json;

use super::wire::{no_store, OAuthError};
use crate::state::TeamState;
use crate::team::iplimit::IpLimit;
use crate::team::origin::public_base;
use crate::team::wire::{digest, now, random_token, PeerIp};

/// RFC 8628 §6.1's alphabet: no vowels, no look-alikes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// How long a device code lives.
pub const EXPIRES_IN: i64 = 600;
/// Seconds between polls.
pub const INTERVAL: i64 = 5;
/// Tries at an unused user code before giving up (20^8 codes: a clash is already rare).
const TRIES: usize = 4;

/// The device authorization endpoint's own limiter.
pub struct DeviceLimit(pub IpLimit);

/// Form `surface=claude_code`; any other parameter (a `client_id`, a `scope`) is ignored.
pub async fn authorize(
    team: TeamState,
    Extension(limit): Extension<Arc<DeviceLimit>>,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
) -> Response {
    if let Err(wait) = limit.0.check(ip, Instant::now()) {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"error": "slow_down"})),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    match issue(&team).await {
        Ok((device_code, user_code)) => {
            let base = public_base(&team, &headers);
            no_store(
                StatusCode::OK,
                json!({
                    "device_code": device_code,
                    "user_code": user_code,
                    "verification_uri": format!("{base}/device"),
                    "verification_uri_complete": format!("{base}/device?user_code={user_code}"),
                    "expires_in": EXPIRES_IN,
                    "interval": INTERVAL,
                }),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// Store a new pair of codes: `(device code, user code as shown)`.
async fn issue(team: &TeamState) -> Result<(String, String), OAuthError> {
    let mut last = None;
    for _ in 0..TRIES {
        let device_code = random_token();
        let user_code = user_code();
        let stored = team
            .store
            .create_device_code(
                &digest(&device_code),
                &user_code_digest(&user_code),
                now() + EXPIRES_IN,
                INTERVAL,
            )
            .await;
        match stored {
            Ok(_) => return Ok((device_code, display(&user_code))),
            Err(e @ StoreError::Conflict(_)) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(OAuthError::from)
        .unwrap_or_else(|| conduit_core::Error::internal("no user code").into()))
}

/// Eight characters of the alphabet, each uniform (bytes ≥ 240 are drawn again).
pub fn user_code() -> String {
    let mut code = String::with_capacity(8);
    while code.len() < 8 {
        for b in rand::random::<[u8; 16]>() {
            if b < 240 && code.len() < 8 {
                code.push(char::from(USER_CODE_ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    code
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn display(code: &str) -> String {
    match code.split_at_checked(4) {
        Some((a, b)) => format!("{a}-{b}"),
        None => code.to_string(),
    }
}

/// What a person typed, upper case, without separators or whitespace.
pub fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The digest the store keeps of a user code, typed or shown in any form.
pub fn user_code_digest(typed: &str) -> String {
    digest(&normalise(typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_normalise_to_one_digest() {
        for _ in 0..200 {
            let code = user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        }
        let shown = display("BCDFGHJK");
        assert_eq!(shown, "BCDF-GHJK");
        for typed in ["bcdf-ghjk", " BCDF GHJK ", "BCDFGHJK", "bcdf_ghjk"] {
            assert_eq!(user_code_digest(typed), user_code_digest(&shown), "{typed}");
        }
    }
}
