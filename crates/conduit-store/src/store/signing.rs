//! The keys the gateway signs its access tokens with, shared by every instance: the newest
//! signs, every unexpired one verifies. Key material is stored as hex text.

use sqlx::any::AnyRow;

use super::rows::get;
use super::Store;
use crate::error::on_write;
use crate::{SigningKey, StoreError};

impl Store {
    /// The keys unexpired at `now`, newest first.
    pub async fn signing_keys(&self, now: i64) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_pkcs8, public_key, created_at, expires_at \
             FROM signing_keys WHERE expires_at > $1 ORDER BY created_at DESC, kid DESC",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key).collect()
    }

    /// `Conflict` when the kid exists (another instance rotated at the same moment).
    pub async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_pkcs8, public_key, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(hex::encode(&key.private_pkcs8))
        .bind(hex::encode(&key.public_key))
        .bind(key.created_at)
        .bind(key.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| on_write(e, &format!("signing key {} exists", key.kid), "signing key"))?;
        Ok(())
    }
}

fn key(row: &AnyRow) -> Result<SigningKey, StoreError> {
    let bytes = |col: &str| -> Result<Vec<u8>, StoreError> {
        let text: String = get(row, col)?;
        hex::decode(text)
            .map_err(|_| StoreError::Internal(format!("signing_keys.{col} is not hex")))
    };
    Ok(SigningKey {
        kid: get(row, "kid")?,
        alg: get(row, "alg")?,
        private_pkcs8: bytes("private_pkcs8")?,
        public_key: bytes("public_key")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
    })
}
