//! Who is calling the admin API: a session token or an identity provider's JWT from
//! `x-api-key` or `Authorization: Bearer` (the bearer tiers of `team/auth.rs`), its role, and
//! the client address for the audit. Virtual keys and the gateway's own access tokens are not
//! admin credentials.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use conduit_core::{Error, ErrorKind};
use conduit_store::{Actor, Role};

use super::error::ApiError;
use crate::state::AppState;
use crate::team::{Principal, PrincipalKind};

/// A signed-in person (a session token or an IdP token, never a virtual key nor a gateway
/// access token), for `/admin/*`, `/me/*` and `/auth/logout`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub ip: Option<String>,
}

/// A caller with the admin role (for `/admin/*` writes). Checked before the body is read, so
/// a member gets 403, not a complaint about their JSON.
pub struct Admin(pub Caller);

/// A caller who may read `/admin/*`: an admin or an auditor.
pub struct Reader;

/// Any gateway credential, a virtual key or a session (for `/auth/me`).
#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: Principal,
}

/// The client's address, when the server recorded it (absent in `oneshot` tests).
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(&parts.headers, state).await?;
        if !signed_in(principal.kind) {
            let what = match principal.kind {
                PrincipalKind::GatewayToken => "Claude Code's sign-in tokens",
                _ => "virtual keys",
            };
            return Err(ApiError::unauthenticated(format!(
                "{what} are not admin credentials; sign in with /auth/login or your identity \
                 provider"
            )));
        }
        Ok(Self {
            principal,
            ip: client_ip(parts),
        })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_admin()?;
        Ok(Self(caller))
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_reader()?;
        Ok(Self)
    }
}

impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self {
            principal: authenticate(&parts.headers, state).await?,
        })
    }
}

impl Caller {
    /// For a write under `/admin`.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.principal.role {
            Role::Admin => Ok(()),
            Role::Auditor => Err(ApiError::forbidden(
                "auditors can read but not change anything",
            )),
            Role::Member => Err(ApiError::forbidden("admin role required")),
        }
    }

    /// For a read under `/admin`.
    pub fn require_reader(&self) -> Result<(), ApiError> {
        match self.principal.role {
            Role::Admin | Role::Auditor => Ok(()),
            Role::Member => Err(ApiError::forbidden("admin or auditor role required")),
        }
    }

    /// The signed-in user's id (a session always has one).
    pub fn user_id(&self) -> Result<&str, ApiError> {
        self.principal
            .user_id
            .as_deref()
            .ok_or_else(|| ApiError(Error::internal("a session without a user")))
    }

    /// Who to write in the audit log for this caller's writes.
    pub fn actor(&self) -> Actor {
        self.principal.actor(self.ip.clone())
    }
}

/// The presented credentials: `x-api-key`, then `Authorization: Bearer` (the `/v1` guards'
/// reading), empty ones left out.
fn presented(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    crate::routes::guard::presented_keys(headers).filter(|s| !s.is_empty())
}

/// The kinds of credential a person signs in with (CCAG: a session, then an IdP JWT).
fn signed_in(kind: PrincipalKind) -> bool {
    matches!(kind, PrincipalKind::Session | PrincipalKind::IdpToken)
}

/// Every presented credential is looked up; a signed-in person beats a key, and a key beats a
/// refusal, so a stray `x-api-key` next to a good bearer session does not lock an admin out.
async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<Principal, ApiError> {
    let team = state.team()?;
    let mut found: Option<Principal> = None;
    let mut refusal: Option<Error> = None;
    let mut secrets: Vec<&str> = presented(headers).collect();
    secrets.dedup();
    for secret in secrets {
        match crate::team::auth::authenticate(team, secret).await {
            Ok(p) if signed_in(p.kind) => return Ok(p),
            Ok(p) => found = found.or(Some(p)),
            // A stale cache (503) says more than a 401 about why nothing matched.
            Err(e) if e.kind == ErrorKind::Unavailable => refusal = Some(e),
            Err(e) => refusal = refusal.or(Some(e)),
        }
    }
    if let Some(p) = found {
        return Ok(p);
    }
    Err(ApiError(refusal.unwrap_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            "missing credentials: send a session token from POST /auth/login (or your identity \
             provider's token) as x-api-key or Authorization: Bearer",
        )
    })))
}

fn client_ip(parts: &Parts) -> Option<String> {
    crate::team::wire::peer_ip(parts).map(|ip| ip.to_string())
}
