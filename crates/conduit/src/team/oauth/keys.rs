//! The gateway's Ed25519 signing keys: making one (ring), its `kid`, its public JWK, and the
//! in-memory key set a [`super::Signer`] holds (the store's unexpired keys, newest first).

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_core::Error;
use conduit_store::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The JOSE name of the one algorithm the gateway signs with.
pub const ALG: &str = "EdDSA";

/// Extra life of a key past its last possible token, for clock differences between instances.
const SLACK_SECS: i64 = 300;

/// A new key made at `now`: it signs for `rotate_after`, then verifies until the last token it
/// signed has expired.
pub fn generate(
    now: i64,
    rotate_after: Duration,
    access_ttl: Duration,
) -> Result<SigningKey, Error> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::internal("cannot generate an Ed25519 signing key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::internal("cannot read back the generated signing key"))?;
    let public_key = pair.public_key().as_ref().to_vec();
    let lifetime = secs(rotate_after) + secs(access_ttl) + SLACK_SECS;
    Ok(SigningKey {
        kid: kid(&public_key),
        alg: ALG.into(),
        private_pkcs8: pkcs8.as_ref().to_vec(),
        public_key,
        created_at: now,
        expires_at: now.saturating_add(lifetime),
    })
}

/// The first 16 hex characters of SHA-256 of the raw public key.
pub fn kid(public_key: &[u8]) -> String {
    let mut hex = hex::encode(Sha256::digest(public_key));
    hex.truncate(16);
    hex
}

pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// One verification key.
pub struct Verifier {
    pub key: DecodingKey,
    pub public_key: Vec<u8>,
}

/// What the signer holds: the key to sign with and every key that verifies.
#[derive(Default)]
pub struct KeySet {
    /// `(kid, key, created_at)` of the key that signs.
    pub signing: Option<(String, EncodingKey, i64)>,
    pub verifying: HashMap<String, Verifier>,
}

/// A key must be this old before an instance signs with it, so every other instance (which
/// reloads every minute) knows it before a token signed with it shows up.
pub const PUBLISH_SECS: i64 = 120;

impl KeySet {
    /// From the store's unexpired keys, newest first. Signs with the newest key that every
    /// instance has had time to load, or the newest when none is that old (the first start).
    pub fn from_keys(keys: &[SigningKey], now: i64) -> Self {
        let mut verifying = HashMap::new();
        for k in keys.iter().filter(|k| k.alg == ALG && k.expires_at > now) {
            verifying.insert(
                k.kid.clone(),
                Verifier {
                    key: DecodingKey::from_ed_der(&k.public_key),
                    public_key: k.public_key.clone(),
                },
            );
        }
        let usable = |k: &&SigningKey| k.alg == ALG && k.expires_at > now;
        let published = keys
            .iter()
            .filter(usable)
            .find(|k| k.created_at <= now - PUBLISH_SECS);
        let signing = published.or_else(|| keys.iter().find(usable)).map(|k| {
            (
                k.kid.clone(),
                EncodingKey::from_ed_der(&k.private_pkcs8),
                k.created_at,
            )
        });
        Self { signing, verifying }
    }

    /// The public keys as a JWK Set (`kty: OKP`, `crv: Ed25519`), sorted by `kid`.
    pub fn jwks(&self) -> Value {
        let mut kids: Vec<&String> = self.verifying.keys().collect();
        kids.sort();
        let keys: Vec<Value> = kids
            .into_iter()
            .map(|kid| {
                let x = URL_SAFE_NO_PAD.encode(&self.verifying[kid].public_key);
                json!({"kty": "OKP", "crv": "Ed25519", "alg": ALG, "use": "sig", "kid": kid, "x": x})
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// Whether the newest key (of the store's, newest first) is older than `rotate_after`, or there
/// is none: time to make one.
pub fn rotation_due(keys: &[SigningKey], now: i64, rotate_after: Duration) -> bool {
    match keys.iter().find(|k| k.alg == ALG) {
        Some(newest) => newest.created_at.saturating_add(secs(rotate_after)) <= now,
        None => true,
    }
}
