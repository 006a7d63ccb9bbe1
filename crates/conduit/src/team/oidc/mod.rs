//! Identity providers (OpenID Connect): which IdPs there are (`registry.rs`: the environment's
//! and the store's), their discovery documents (`discovery.rs`), their key sets with a
//! single-flight, cooled-down refetch (`jwks.rs`), the token checks (`validate.rs`), the
//! remembered verifications (`verified.rs`) and who a checked identity is (`provision.rs`).

mod discovery;
pub use discovery::{probe, Probe};
mod jwks;
mod provision;
mod registry;
mod validate;
mod verified;

use std::collections::BTreeSet;
use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use conduit_store::{Idp, NewIdp, Store};

pub use discovery::{allowed_url, read_capped, BodyError};
pub use provision::{deactivated, resolve_user};
pub use registry::ENV_ID;
pub use verified::Recalled;

/// How long an unknown `kid` keeps the key set of its issuer from being fetched again.
pub const JWKS_COOLDOWN: Duration = Duration::from_secs(10);

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

/// `allowed_domains` as kept: lower case, without a leading `@`, empty entries dropped.
pub fn normalise_domains<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    values
        .into_iter()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
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
pub struct Registry {
    idps: registry::Idps,
    keys: jwks::KeySets,
    skew: Duration,
    refresh: Duration,
    verified: verified::Verified,
}

impl Registry {
    pub fn new(
        http: reqwest::Client,
        env_idp: Option<NewIdp>,
        skew: Duration,
        refresh: Duration,
    ) -> Self {
        Registry {
            idps: registry::Idps::new(env_idp),
            keys: jwks::KeySets::new(http, JWKS_COOLDOWN),
            skew,
            refresh,
            verified: verified::Verified::new(verified::CAPACITY),
        }
    }

    /// The same registry with another cool-down after a key-set fetch (tests of key rotation).
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.keys.set_cooldown(cooldown);
        self
    }

    /// Read the store's IdPs (at start).
    pub async fn load(&self, store: &Store) -> Result<(), Error> {
        let rows = store
            .list_idps()
            .await
            .map_err(crate::team::api::store_error)?;
        self.apply(&rows);
        Ok(())
    }

    /// Rows written since the last sync: upserted, or dropped when deleted or disabled.
    pub fn apply(&self, idps: &[Idp]) {
        if idps.is_empty() {
            return;
        }
        self.idps.apply(idps);
        self.keys.retain(&self.idps.issuers());
    }

    /// Enabled IdPs, for the sign-in buttons (the environment's first).
    pub fn list(&self) -> Vec<IdpInfo> {
        self.idps
            .enabled()
            .into_iter()
            .map(|i| IdpInfo {
                id: i.id,
                name: i.name,
            })
            .collect()
    }

    /// Every enabled IdP's issuer, once each.
    pub fn issuers(&self) -> BTreeSet<String> {
        self.idps.issuers()
    }

    /// An enabled IdP by id (the environment's is `env`).
    pub fn get(&self, id: &str) -> Option<Idp> {
        self.idps.get(id)
    }

    /// The environment's IdP, if `OIDC_ISSUER` named one.
    pub fn env_idp(&self) -> Option<Idp> {
        self.idps.env()
    }

    /// How often the sync task should fetch every key set again.
    pub fn refresh_period(&self) -> Duration {
        self.refresh
    }

    /// The IdP's authorization and token endpoints (discovery, cached).
    pub async fn endpoints(&self, idp_id: &str) -> Result<Endpoints, Error> {
        let idp = self.get(idp_id).ok_or_else(|| unknown_idp(idp_id))?;
        let doc = self.keys.discovery(&idp.issuer_url).await?;
        Ok(Endpoints {
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
        })
    }

    /// A bearer token from an IdP: the IdP is the one whose issuer equals the token's
    /// (unverified) `iss`; its `aud` must carry that IdP's audience.
    pub async fn verify_bearer(&self, token: &str) -> Result<Identity, Error> {
        self.verify_bearer_until(token).await.map(|(id, _)| id)
    }

    /// [`Self::verify_bearer`] and the token's `exp`.
    pub async fn verify_bearer_until(&self, token: &str) -> Result<(Identity, i64), Error> {
        let parts = validate::Parts::parse(token)?;
        let candidates = self.idps.by_issuer(&parts.issuer);
        if candidates.is_empty() {
            return Err(validate::refused(
                "its issuer (iss) is not an identity provider of this gateway (compared exactly)",
            ));
        }
        let keys = self.keys.keys(&parts.issuer, &parts.header).await?;
        let mut last = None;
        for idp in &candidates {
            let expect = validate::Expect {
                idp,
                audience: &idp.audience,
                nonce: None,
                skew: self.skew,
            };
            match validate::check(token, &parts, &keys, &expect) {
                Ok(found) => return Ok(found),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| validate::refused("no identity provider accepted it")))
    }

    /// An ID token from a browser sign-in at `idp_id`: its `aud` must carry the IdP's client id
    /// (the audience when there is none), and its `nonce` must equal the sign-in's.
    pub async fn verify_id_token(
        &self,
        idp_id: &str,
        token: &str,
        nonce: &str,
    ) -> Result<Identity, Error> {
        let idp = self.get(idp_id).ok_or_else(|| unknown_idp(idp_id))?;
        let parts = validate::Parts::parse(token)?;
        if parts.issuer != idp.issuer_url {
            return Err(validate::refused(
                "its issuer (iss) is not the identity provider the sign-in started at",
            ));
        }
        let keys = self.keys.keys(&parts.issuer, &parts.header).await?;
        let audience = idp
            .client_id
            .clone()
            .unwrap_or_else(|| idp.audience.clone());
        let expect = validate::Expect {
            idp: &idp,
            audience: &audience,
            nonce: Some(nonce),
            skew: self.skew,
        };
        validate::check(token, &parts, &keys, &expect).map(|(id, _)| id)
    }

    /// Fetch every configured IdP's discovery document and key set again (the sync task's
    /// timer). A failure keeps the keys there were.
    pub async fn refresh_all(&self) {
        for issuer in self.idps.issuers() {
            if let Err(e) = self.keys.refresh(&issuer).await {
                tracing::warn!(%issuer, "cannot refresh the identity provider's keys: {}", e.message);
            }
        }
    }

    /// A token verified earlier (by its SHA-256), still within its time and its IdP still on.
    pub fn recall(&self, digest: &[u8; 32]) -> Option<Recalled> {
        self.verified
            .get(digest, crate::team::wire::now())
            .filter(|r| self.idps.get(&r.idp_id).is_some())
    }

    /// Remember a verified token until `min(exp, now + 5 min)`.
    pub fn remember(&self, digest: [u8; 32], user_id: &str, idp_id: &str, exp: i64) {
        self.verified
            .put(digest, user_id, idp_id, exp, crate::team::wire::now());
    }
}

/// Refuse a token over 16 KiB before anything parses it.
pub fn validate_size(token: &str) -> Result<(), Error> {
    if token.len() > validate::MAX_TOKEN_BYTES {
        return Err(Error::new(
            ErrorKind::Authentication,
            "token refused: it is larger than 16 KiB",
        ));
    }
    Ok(())
}

fn unknown_idp(id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("identity provider {id:?} not found (or disabled)"),
    )
}
