//! Every issuer's key set, fetched on first use and cached. A `kid` the set lacks fetches it
//! again once: single-flight (one fetch in flight per issuer, concurrent callers await it and
//! then look again) and cooled down (after a fetch, unknown `kid`s are refused without asking
//! the IdP for [`super::JWKS_COOLDOWN`]), so random `kid`s cannot flood an IdP. The sync task's
//! timer fetches every set again ([`KeySets::refresh`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use conduit_core::{Error, ErrorKind};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::discovery::{discover, get_json, Discovery};
use super::validate::{refused, Header};

/// The kind of a signing key, which decides the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl Family {
    fn allows(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            Family::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Family::EcP256 => alg == ES256,
            Family::EcP384 => alg == ES384,
            Family::Ed25519 => alg == EdDSA,
        }
    }
}

/// A verification key from an IdP's set.
pub(super) struct Key {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    pub alg: Option<Algorithm>,
    pub family: Family,
    pub decoding: DecodingKey,
}

impl Key {
    /// Whether a token signed with `alg` may be checked with this key: the JWK's `alg` when it
    /// has one, else any allowed algorithm of its type.
    pub fn fits(&self, alg: Algorithm) -> bool {
        match self.alg {
            Some(own) => own == alg,
            None => self.family.allows(alg),
        }
    }
}

type KeyList = Arc<Vec<Arc<Key>>>;

pub(super) struct KeySets {
    http: reqwest::Client,
    cooldown: Duration,
    sets: Mutex<HashMap<String, Arc<IssuerKeys>>>,
}

#[derive(Default)]
struct IssuerKeys {
    keys: RwLock<KeyList>,
    /// Bumped by every successful fetch, so a caller that waited for another's fetch knows.
    generation: AtomicU64,
    fetch: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    discovery: Option<Discovery>,
    /// When an unknown `kid` (or the first use) last asked the IdP.
    last_attempt: Option<Instant>,
    /// Why the last fetch failed (while no set was ever fetched).
    last_error: Option<Error>,
    loaded: bool,
}

impl IssuerKeys {
    fn current(&self) -> KeyList {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn store(&self, keys: Vec<Arc<Key>>) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The keys that may check a token with this header: by `kid`, else every key that fits.
    fn pick(&self, header: &Header) -> Vec<Arc<Key>> {
        self.current()
            .iter()
            .filter(|k| match &header.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => k.fits(header.alg),
            })
            .cloned()
            .collect()
    }
}

fn unknown_kid() -> Error {
    refused("it was signed with a key the identity provider does not publish (unknown kid)")
}

impl KeySets {
    pub(super) fn new(http: reqwest::Client, cooldown: Duration) -> Self {
        Self {
            http,
            cooldown,
            sets: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn set_cooldown(&mut self, cooldown: Duration) {
        self.cooldown = cooldown;
    }

    fn set(&self, issuer: &str) -> Arc<IssuerKeys> {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.entry(issuer.to_owned()).or_default().clone()
    }

    /// Forget the sets of issuers no longer configured.
    pub(super) fn retain(&self, issuers: &BTreeSet<String>) {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.retain(|issuer, _| issuers.contains(issuer));
    }

    /// The keys that may check a token from `issuer` with this header, fetching the set
    /// (single-flight, cooled down) when it lacks the `kid`.
    pub(super) async fn keys(&self, issuer: &str, header: &Header) -> Result<KeyList, Error> {
        let set = self.set(issuer);
        let seen = set.generation.load(Ordering::Acquire);
        let found = set.pick(header);
        if !found.is_empty() {
            return Ok(Arc::new(found));
        }
        let mut state = set.fetch.lock().await;
        if set.generation.load(Ordering::Acquire) == seen {
            if state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.cooldown)
            {
                if !state.loaded {
                    return Err(state.last_error.clone().unwrap_or_else(|| {
                        Error::new(
                            ErrorKind::Unavailable,
                            "the identity provider's keys are not loaded",
                        )
                    }));
                }
                return Err(unknown_kid());
            }
            state.last_attempt = Some(Instant::now());
            if let Err(e) = self.fetch(issuer, &set, &mut state).await {
                if !state.loaded {
                    state.last_error = Some(e.clone());
                }
                return Err(e);
            }
        }
        drop(state);
        let found = set.pick(header);
        if found.is_empty() {
            return Err(unknown_kid());
        }
        Ok(Arc::new(found))
    }

    /// The issuer's discovery document, fetched once and kept.
    pub(super) async fn discovery(&self, issuer: &str) -> Result<Discovery, Error> {
        let set = self.set(issuer);
        let mut state = set.fetch.lock().await;
        if let Some(doc) = &state.discovery {
            return Ok(doc.clone());
        }
        let doc = discover(&self.http, issuer).await?;
        state.discovery = Some(doc.clone());
        Ok(doc)
    }

    /// Fetch the discovery document and the key set again (the timer); no cool-down applies
    /// and none starts. A failure keeps what there was.
    pub(super) async fn refresh(&self, issuer: &str) -> Result<(), Error> {
        let set = self.set(issuer);
        let mut state = set.fetch.lock().await;
        if let Ok(doc) = discover(&self.http, issuer).await {
            state.discovery = Some(doc);
        }
        self.fetch(issuer, &set, &mut state).await
    }

    /// Fetch (discovery if needed, then) the key set, under the issuer's fetch lock.
    async fn fetch(
        &self,
        issuer: &str,
        set: &IssuerKeys,
        state: &mut FetchState,
    ) -> Result<(), Error> {
        let doc = match &state.discovery {
            Some(doc) => doc.clone(),
            None => {
                let doc = discover(&self.http, issuer).await?;
                state.discovery = Some(doc.clone());
                doc
            }
        };
        let raw: RawSet = match get_json(&self.http, issuer, &doc.jwks_uri).await {
            Ok(raw) => raw,
            Err(e) => {
                // The document may have moved the key set: discover again next time.
                state.discovery = None;
                return Err(e);
            }
        };
        let keys: Vec<Arc<Key>> = raw
            .keys
            .into_iter()
            .filter_map(parse_key)
            .map(Arc::new)
            .collect();
        tracing::debug!(%issuer, keys = keys.len(), "fetched the identity provider's key set");
        set.store(keys);
        state.loaded = true;
        state.last_error = None;
        Ok(())
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// A signing key the gateway can use, or `None` (encryption keys, symmetric keys, HS*,
/// unsupported curves, malformed entries are skipped).
fn parse_key(value: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Family::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Family::EcP256,
            EllipticCurve::P384 => Family::EcP384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Family::Ed25519
        }
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(signing_alg(a)?),
    };
    if alg.is_some_and(|a| !family.allows(a)) {
        return None;
    }
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id,
        alg,
        family,
        decoding,
    })
}

/// A JWK `alg` from the allowlist (RS*, PS*, ES256/384, EdDSA), else `None`.
fn signing_alg(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
