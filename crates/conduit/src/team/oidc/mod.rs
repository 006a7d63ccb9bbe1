//! Identity providers (OpenID Connect): discovery, key sets, token checks, provisioning.
//! (Issue 12 skeleton: H2 fills it in.)
#![allow(unused_variables, clippy::todo)]

use std::time::Duration;

use conduit_core::Error;
use conduit_store::{Idp, NewIdp, Store, User};

/// An enabled identity provider, as a sign-in button shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpInfo {
    pub id: String,
    pub name: String,
}

/// Where the browser and the gateway talk to an identity provider (from discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

/// Who a checked token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub idp_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
}

/// The HTTP client for identity providers: 5 s timeouts, no redirects followed.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Every configured identity provider with its discovery document and key set.
pub struct Registry {}

impl Registry {
    pub fn new(
        http: reqwest::Client,
        env_idp: Option<NewIdp>,
        skew: Duration,
        refresh: Duration,
    ) -> Self {
        Registry {}
    }

    pub async fn load(&self, store: &Store) -> Result<(), Error> {
        Ok(())
    }

    pub fn apply(&self, idps: &[Idp]) {}

    pub fn list(&self) -> Vec<IdpInfo> {
        Vec::new()
    }

    pub fn get(&self, id: &str) -> Option<Idp> {
        None
    }

    pub async fn endpoints(&self, idp_id: &str) -> Result<Endpoints, Error> {
        todo!()
    }

    pub async fn verify_bearer(&self, token: &str) -> Result<Identity, Error> {
        todo!()
    }

    pub async fn verify_id_token(
        &self,
        idp_id: &str,
        token: &str,
        nonce: &str,
    ) -> Result<Identity, Error> {
        todo!()
    }

    pub async fn refresh_all(&self) {}
}

/// The user a checked identity is: found by `(issuer, subject)`, else provisioned when the IdP
/// allows it, else a 403 that says so; an inactive user is refused.
pub async fn resolve_user(
    store: &Store,
    registry: &Registry,
    id: &Identity,
) -> Result<User, Error> {
    todo!()
}
