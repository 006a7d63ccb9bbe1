//! Sign-in services beyond AWS SSO OIDC (spec §9.3): the Microsoft Entra ID token endpoint that
//! refreshes `external_idp` accounts, and Kiro's social sign-in with PKCE and a loopback
//! redirect (`GET /signin` as app.kiro.dev, `POST /oauth/token` as the Kiro auth service).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::accounts::random_alnum;
use crate::arn::{percent_decode, SOCIAL_DEFAULT_ARN};
use crate::errors;
use crate::model::{Account, AccountKind, HttpError};
use crate::state::{AccountState, Shared, State as SimState};

/// A social sign-in code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct SigninCode {
    pub account: usize,
    pub challenge: String,
    pub redirect_uri: String,
}

fn form(body: &Bytes) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn aad(error: &str, description: &str) -> HttpError {
    HttpError::new(
        400,
        json!({"error": error, "error_description": description}),
        "",
    )
}

/// `POST /{tenant}/oauth2/v2.0/token` — the Entra ID refresh of an `external_idp` account.
pub(crate) async fn entra_token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let answer = shared.with(|s| -> Result<serde_json::Value, HttpError> {
        if s.config.take_refresh_throttle() {
            return Err(errors::refresh_throttled());
        }
        if f.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return Err(aad(
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            ));
        }
        let Some(client_id) = f.get("client_id").filter(|c| !c.is_empty()) else {
            return Err(aad(
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            ));
        };
        let token = f.get("refresh_token").cloned().unwrap_or_default();
        let account = s
            .live_refresh(&token)
            .ok_or_else(errors::idp_invalid_grant)?;
        let spec = &s
            .accounts
            .get(account)
            .ok_or_else(errors::idp_invalid_grant)?
            .spec;
        let ok = spec.kind == AccountKind::ExternalIdp
            && spec.tenant.as_deref().is_none_or(|t| t == tenant)
            && spec.client_id.as_deref().is_none_or(|c| c == client_id);
        if !ok {
            return Err(errors::idp_invalid_grant());
        }
        let scope = f
            .get("scope")
            .cloned()
            .unwrap_or_else(|| "openid offline_access".to_owned());
        if s.config.idp_rotate_refresh {
            let t = s.rotate(&token, account);
            Ok(
                json!({"access_token": t.access_token, "expires_in": t.expires_in,
                      "ext_expires_in": t.expires_in, "refresh_token": t.refresh_token,
                      "scope": scope, "token_type": "Bearer"}),
            )
        } else {
            let (access, ttl) = s.issue_access(account);
            Ok(
                json!({"access_token": access, "expires_in": ttl, "ext_expires_in": ttl,
                      "scope": scope, "token_type": "Bearer"}),
            )
        }
    });
    match answer {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Only `http://127.0.0.1:{port}` or `http://localhost:{port}` (optionally with a path).
fn loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((host, port)) = authority.rsplit_once(':') else {
        return false;
    };
    (host == "127.0.0.1" || host == "localhost")
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
}

fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /signin?...` — what app.kiro.dev does once the person signed in with Google or GitHub:
/// create a social account and redirect to `{redirect_uri}/oauth/callback?code&state`.
pub(crate) async fn signin(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let (state, challenge, redirect) = (get("state"), get("code_challenge"), get("redirect_uri"));
    if state.is_empty()
        || challenge.is_empty()
        || get("code_challenge_method") != "S256"
        || !loopback(redirect)
    {
        return errors::oidc_invalid_request(
            "state, code_challenge, code_challenge_method=S256 and a loopback redirect_uri are required",
        )
        .into_response();
    }
    let code = random_alnum(40);
    shared.with(|s| {
        let ttl = s.config.issued_token_ttl;
        let spec = Account::new(String::new(), String::new())
            .with_kind(AccountKind::Social)
            .with_profile_arn(SOCIAL_DEFAULT_ARN)
            .with_expires_in(ttl);
        let account = s.accounts.len();
        s.accounts.push(AccountState {
            spec,
            chat_requests: 0,
            credits: 0.0,
        });
        s.signin_codes.insert(
            code.clone(),
            SigninCode {
                account,
                challenge: challenge.to_owned(),
                redirect_uri: redirect.to_owned(),
            },
        );
    });
    let location = format!(
        "{}/oauth/callback?code={}&state={}",
        redirect.trim_end_matches('/'),
        encode_component(&code),
        encode_component(state)
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeReq {
    code: Option<String>,
    #[serde(alias = "code_verifier")]
    code_verifier: Option<String>,
    #[serde(alias = "redirect_uri")]
    redirect_uri: Option<String>,
}

fn exchange(s: &mut SimState, req: ExchangeReq) -> Result<serde_json::Value, HttpError> {
    let bad = |d: &str| errors::oidc_invalid_grant(d);
    let code = req.code.unwrap_or_default();
    let pending = s
        .signin_codes
        .get(&code)
        .cloned()
        .ok_or_else(|| bad("Invalid or already used authorization code"))?;
    if req.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str()) {
        return Err(bad("redirect_uri does not match the authorization request"));
    }
    let verifier = req.code_verifier.unwrap_or_default();
    let derived = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if derived != pending.challenge {
        return Err(bad("code_verifier does not match the code_challenge"));
    }
    s.signin_codes.remove(&code);
    let ttl = s.config.issued_token_ttl;
    let t = s.issue_tokens(pending.account, ttl);
    Ok(
        json!({"accessToken": t.access_token, "expiresIn": t.expires_in,
              "profileArn": SOCIAL_DEFAULT_ARN, "refreshToken": t.refresh_token}),
    )
}

/// `POST /oauth/token` — exchange a social sign-in code (PKCE S256) for tokens.
pub(crate) async fn oauth_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let answer = serde_json::from_slice::<ExchangeReq>(&body)
        .map_err(|e| errors::oidc_invalid_request(&format!("Invalid request body: {e}")))
        .and_then(|req| shared.with(|s| exchange(s, req)));
    match answer {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_only() {
        for (uri, ok) in [
            ("http://127.0.0.1:4242", true),
            ("http://localhost:80/cb", true),
            ("https://127.0.0.1:4242", false),
            ("http://example.com:4242", false),
            ("http://127.0.0.1", false),
            ("kiro://kiro.kiroAgent/authenticate-success", false),
        ] {
            assert_eq!(loopback(uri), ok, "{uri}");
        }
    }
}
