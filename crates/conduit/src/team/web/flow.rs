//! The authorization-code flow at an identity provider (PKCE S256, `state`, `nonce`,
//! `response_mode=query`). [`start`] stores a flow row (state by its SHA-256, bound to the
//! browser) and gives the authorize URL; [`finish`] exchanges the callback's code at the token
//! endpoint with the verifier, checks the ID token (nonce included) and resolves the user.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_core::{Error, ErrorKind};
use conduit_store::{Flow, FlowPurpose, NewFlow, User};
use sha2::{Digest, Sha256};

use super::cookie::FLOW_MAX_AGE;
use super::exchange::Exchange;
use crate::state::TeamState;
use crate::team::oidc::resolve_user;
use crate::team::wire::{digest, now, random_token};

/// What a new flow needs besides the IdP.
pub struct Start<'a> {
    pub purpose: FlowPurpose,
    pub idp_id: &'a str,
    /// The device code or CLI session the flow serves.
    pub target: Option<String>,
    /// SHA-256 hex of the browser's binding cookie.
    pub binding_digest: String,
    /// `<public base>/oauth/callback`.
    pub redirect_uri: String,
}

/// Store a pending flow and answer the IdP's authorize URL to send the browser to.
pub async fn start(team: &TeamState, s: Start<'_>) -> Result<String, Error> {
    let idp = team
        .oidc
        .get(s.idp_id)
        .filter(|i| i.enabled)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "no such identity provider at this gateway",
            )
        })?;
    let endpoints = team.oidc.endpoints(s.idp_id).await?;
    let state = random_token();
    let nonce = random_token();
    let verifier = random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let client_id = idp
        .client_id
        .clone()
        .unwrap_or_else(|| idp.audience.clone());
    let scopes = idp
        .scopes
        .clone()
        .unwrap_or_else(|| "openid email profile".to_owned());
    let mut url = url::Url::parse(&endpoints.authorization_endpoint).map_err(|_| {
        Error::internal("the identity provider's authorization_endpoint is not a URL")
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("response_mode", "query")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &s.redirect_uri)
        .append_pair("scope", &scopes)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let new = NewFlow {
        state_digest: digest(&state),
        purpose: s.purpose,
        idp_id: idp.id.clone(),
        nonce,
        pkce_verifier: verifier,
        redirect_uri: s.redirect_uri,
        binding_digest: s.binding_digest,
        target: s.target,
        expires_at: now() + FLOW_MAX_AGE,
    };
    team.store
        .create_flow(&new)
        .await
        .map_err(crate::team::api::store_error)?;
    Ok(url.into())
}

/// The pending flow `state` names (taken: it cannot be used twice), if any.
pub async fn take(team: &TeamState, state: &str) -> Result<Option<Flow>, Error> {
    team.store
        .take_flow(&digest(state), now())
        .await
        .map_err(crate::team::api::store_error)
}

/// Exchange `code` for the ID token, check it, and find (or provision) the user.
pub async fn finish(
    team: &TeamState,
    http: &reqwest::Client,
    flow: &Flow,
    code: &str,
) -> Result<User, Error> {
    let idp = team.oidc.get(&flow.idp_id).ok_or_else(|| {
        Error::new(
            ErrorKind::PermissionDenied,
            "this identity provider was removed while you were signing in",
        )
    })?;
    let endpoints = team.oidc.endpoints(&flow.idp_id).await?;
    let client_id = idp.client_id.as_deref().unwrap_or(&idp.audience);
    let exchange = Exchange {
        token_endpoint: &endpoints.token_endpoint,
        code,
        redirect_uri: &flow.redirect_uri,
        verifier: &flow.pkce_verifier,
        client_id,
        client_secret: idp.client_secret.as_deref(),
        idp_name: &idp.name,
    };
    let id_token = super::exchange::id_token(http, &exchange).await?;
    let identity = team
        .oidc
        .verify_id_token(&flow.idp_id, &id_token, &flow.nonce)
        .await?;
    resolve_user(&team.store, &team.oidc, &identity).await
}
