//! [`Signer`]: signs and checks the gateway's access tokens (EdDSA JWTs) with the store's
//! signing keys, which every instance shares. The newest key signs, every unexpired one
//! verifies; a background task reloads them every minute and makes a new one when rotation is
//! due.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use conduit_store::Store;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::keys::{self, KeySet};
use super::AccessClaims;
use crate::team::api::store_error;
use crate::team::wire::now;

/// `iss` and `aud` of every access token.
pub const ISSUER: &str = "conduit";
/// The one scope these tokens carry.
pub const SCOPE: &str = "claude-code";
/// Clock difference tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Tokens longer than this are refused before parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// How often [`Signer::spawn_reload`] reloads.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    fid: String,
    scope: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// Signs and checks the gateway's access tokens with the store's signing keys.
pub struct Signer {
    keys: RwLock<KeySet>,
    rotate_after: Duration,
    access_ttl: Duration,
}

impl Signer {
    /// Load the store's keys, making one first when there is none young enough.
    pub async fn load(
        store: &Store,
        rotate_after: Duration,
        access_ttl: Duration,
    ) -> Result<Signer, Error> {
        let signer = Signer {
            keys: RwLock::new(KeySet::default()),
            rotate_after,
            access_ttl,
        };
        signer.reload(store).await?;
        Ok(signer)
    }

    /// Whether `kid` is one of the gateway's verification keys (a map lookup).
    pub fn owns(&self, kid: &str) -> bool {
        self.read(|k| k.verifying.contains_key(kid))
    }

    /// A new access token for `user_id` in sign-in `family_id`, and its `exp`.
    pub fn sign(&self, user_id: &str, family_id: &str) -> Result<(String, i64), Error> {
        let now = now();
        let exp = now.saturating_add(keys::secs(self.access_ttl));
        let claims = Claims {
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            sub: user_id.into(),
            fid: family_id.into(),
            scope: SCOPE.into(),
            iat: now,
            nbf: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = self.read(|k| {
            let (kid, key, _) = k
                .signing
                .as_ref()
                .ok_or_else(|| Error::internal("no signing key loaded"))?;
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(kid.clone());
            jsonwebtoken::encode(&header, &claims, key)
                .map_err(|_| Error::internal("cannot sign an access token"))
        })?;
        Ok((token, exp))
    }

    /// The claims of a token this gateway signed and that is still valid; 401 otherwise.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let refused = || Error::new(ErrorKind::Authentication, "invalid or expired access token");
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refused());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
        if header.alg != Algorithm::EdDSA {
            return Err(refused());
        }
        let kid = header.kid.ok_or_else(refused)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = self.read(|k| {
            let verifier = k.verifying.get(&kid).ok_or_else(refused)?;
            jsonwebtoken::decode::<Claims>(token, &verifier.key, &validation)
                .map(|data| data.claims)
                .map_err(|_| refused())
        })?;
        if claims.scope != SCOPE || claims.sub.is_empty() || claims.fid.is_empty() {
            return Err(refused());
        }
        Ok(AccessClaims {
            user_id: claims.sub,
            family_id: claims.fid,
            expires_at: claims.exp,
        })
    }

    /// Reload the keys (other instances' new ones, expiries), making a new key first when the
    /// newest is older than the rotation period.
    pub async fn reload(&self, store: &Store) -> Result<(), Error> {
        let now = now();
        let mut stored = store.signing_keys(now).await.map_err(store_error)?;
        if keys::rotation_due(&stored, now, self.rotate_after) {
            let key = keys::generate(now, self.rotate_after, self.access_ttl)?;
            store.insert_signing_key(&key).await.map_err(store_error)?;
            tracing::info!(kid = %key.kid, "made a new token signing key");
            // Read again: another instance may have made one at the same time; all verify.
            stored = store.signing_keys(now).await.map_err(store_error)?;
        }
        let set = KeySet::from_keys(&stored, now);
        match self.keys.write() {
            Ok(mut keys) => *keys = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }

    /// The public keys, for `GET /oauth/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        self.read(KeySet::jwks)
    }

    /// The owned task that reloads every minute (rotating when due) until `cancel`.
    pub fn spawn_reload(
        self: Arc<Self>,
        store: Store,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(RELOAD_EVERY) => {}
                }
                if let Err(e) = self.reload(&store).await {
                    tracing::warn!(error = %e.message, "reloading the token signing keys failed");
                }
            }
        })
    }

    fn read<T>(&self, f: impl FnOnce(&KeySet) -> T) -> T {
        match self.keys.read() {
            Ok(keys) => f(&keys),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}
