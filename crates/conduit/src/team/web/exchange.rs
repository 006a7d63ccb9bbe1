//! The code exchange at an identity provider's token endpoint (authorization code + PKCE
//! verifier). A confidential client sends its secret in the form (`client_secret_post`); should
//! the IdP refuse that client authentication (`invalid_client`, or a 401), the same request is
//! sent once more with HTTP Basic (`client_secret_basic`, which RFC 6749 makes every server
//! accept): an IdP that registered the client for one method refuses the other, before it
//! looks at the code.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use conduit_core::{Error, ErrorKind};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::team::oidc::{read_capped, BodyError};

/// The largest token-endpoint answer read.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// One code to exchange.
pub struct Exchange<'a> {
    pub token_endpoint: &'a str,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub verifier: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    /// For the log.
    pub idp_name: &'a str,
}

#[derive(Deserialize, Default)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::PermissionDenied, message)
}

/// The ID token the IdP gives for the code.
pub async fn id_token(http: &reqwest::Client, x: &Exchange<'_>) -> Result<String, Error> {
    let (mut status, mut answer) = post(http, x, false).await?;
    let client_auth_refused =
        status == StatusCode::UNAUTHORIZED || answer.error.as_deref() == Some("invalid_client");
    if client_auth_refused && x.client_secret.is_some() {
        (status, answer) = post(http, x, true).await?;
    }
    if !status.is_success() {
        let error = answer.error.unwrap_or_default();
        let error: String = error
            .chars()
            .filter(char::is_ascii_graphic)
            .take(64)
            .collect();
        tracing::warn!(idp = %x.idp_name, %status, %error, "the identity provider refused the code");
        return Err(refused(format!(
            "the identity provider refused the sign-in (HTTP {} {error}); start again",
            status.as_u16()
        )));
    }
    answer.id_token.ok_or_else(|| {
        refused("the identity provider sent no ID token (is `openid` among the scopes?)")
    })
}

/// One POST to the token endpoint: the secret in the form, or (`basic`) in the header.
async fn post(
    http: &reqwest::Client,
    x: &Exchange<'_>,
    basic: bool,
) -> Result<(StatusCode, TokenAnswer), Error> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", x.code),
        ("redirect_uri", x.redirect_uri),
        ("code_verifier", x.verifier),
        ("client_id", x.client_id),
    ];
    let mut req = http
        .post(x.token_endpoint)
        .header("accept", "application/json");
    if let Some(secret) = x.client_secret {
        if basic {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(x.client_id), enc(secret));
            req = req.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
        } else {
            form.push(("client_secret", secret));
        }
    }
    let unreachable = |_| {
        Error::new(
            ErrorKind::Unavailable,
            "the identity provider's token endpoint did not answer; try again",
        )
    };
    let mut resp = req.form(&form).send().await.map_err(unreachable)?;
    let status = resp.status();
    let body = match read_capped(&mut resp, MAX_TOKEN_RESPONSE).await {
        Ok(body) => body,
        Err(BodyError::Transport(e)) => return Err(unreachable(e)),
        Err(BodyError::TooLarge) => {
            return Err(refused("the identity provider's token answer is too large"))
        }
    };
    let answer = serde_json::from_slice(&body);
    if status.is_success() && answer.is_err() {
        return Err(refused("the identity provider's token answer is not JSON"));
    }
    Ok((status, answer.unwrap_or_default()))
}
