//! Credentials (virtual keys and sessions, stored as digests): create, list, look up, revoke,
//! and the batched last-use record.

use serde_json::json;

use super::rows::{self, credential_cols};
use super::{audit, new_id, now_s, teams, users, Store};
use crate::error::on_write;
use crate::{Actor, Credential, CredentialKind, NewCredential, StoreError};

impl Store {
    /// Insert a credential. Keys are audited (`key.create`) with `actor`; sessions with
    /// `auth.login`. `NotFound` for an unknown user or team. The audit detail names the key
    /// and its prefix, never the digest.
    pub async fn create_credential(
        &self,
        new: &NewCredential,
        actor: &Actor,
    ) -> Result<Credential, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        if let Some(user) = &new.user_id {
            users::require(&mut tx, user).await?;
        }
        if let Some(team) = &new.team_id {
            teams::require(&mut tx, team).await?;
        }
        let cred = Credential {
            id: new_id(),
            kind: new.kind,
            digest: new.digest.clone(),
            prefix: new.prefix.clone(),
            name: new.name.clone(),
            user_id: new.user_id.clone(),
            team_id: new.team_id.clone(),
            rate_limit_rpm: new.rate_limit_rpm,
            created_at: now_s(),
            expires_at: new.expires_at,
            last_used_at: None,
            revoked_at: None,
            version,
        };
        sqlx::query(
            "INSERT INTO credentials (id, kind, digest, prefix, name, user_id, team_id, \
             rate_limit_rpm, created_at, expires_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&cred.id)
        .bind(cred.kind.as_str())
        .bind(&cred.digest)
        .bind(&cred.prefix)
        .bind(&cred.name)
        .bind(cred.user_id.as_deref())
        .bind(cred.team_id.as_deref())
        .bind(cred.rate_limit_rpm)
        .bind(cred.created_at)
        .bind(cred.expires_at)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_write(e, "a credential with this digest already exists", "user"))?;
        let (action, detail) = match cred.kind {
            CredentialKind::Key => (
                "key.create",
                json!({
                    "name": cred.name,
                    "prefix": cred.prefix,
                    "user_id": cred.user_id,
                    "team_id": cred.team_id,
                    "rate_limit_rpm": cred.rate_limit_rpm,
                    "expires_at": cred.expires_at,
                }),
            ),
            CredentialKind::Session => (
                "auth.login",
                // The session's name says how the person signed in (`session`, `portal`,
                // `cli`, `oidc:<idp>`).
                json!({ "user_id": cred.user_id, "expires_at": cred.expires_at, "via": cred.name }),
            ),
        };
        audit::write(&mut tx, actor, action, Some(&cred.id), &detail).await?;
        tx.commit().await?;
        Ok(cred)
    }

    /// Virtual keys (not sessions), newest first; only `user_id`'s when given.
    pub async fn list_keys(&self, user_id: Option<&str>) -> Result<Vec<Credential>, StoreError> {
        let rows = match user_id {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    credential_cols!(),
                    " FROM credentials WHERE kind = 'key' ORDER BY created_at DESC, id DESC"
                ))
                .fetch_all(&self.pool)
                .await?
            }
            Some(user) => {
                sqlx::query(concat!(
                    "SELECT ",
                    credential_cols!(),
                    " FROM credentials WHERE kind = 'key' AND user_id = $1 \
                     ORDER BY created_at DESC, id DESC"
                ))
                .bind(user)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows::all(&rows, rows::credential)
    }

    pub async fn credential(&self, id: &str) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            credential_cols!(),
            " FROM credentials WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::credential).transpose()
    }

    /// Revoke a key or end a session (idempotent: a second call keeps the first time and
    /// writes nothing), audited as `action` (`key.revoke`, `auth.logout`).
    /// `NotFound{what:"key"}` for an unknown id.
    pub async fn revoke_credential(
        &self,
        id: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<Credential, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let row = sqlx::query(concat!(
            "UPDATE credentials SET revoked_at = $1, version = $2 \
             WHERE id = $3 AND revoked_at IS NULL RETURNING ",
            credential_cols!()
        ))
        .bind(now_s())
        .bind(version)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // Unknown, or revoked already: nothing to write (the version bump rolls back).
            tx.rollback().await?;
            return self
                .credential(id)
                .await?
                .ok_or(StoreError::NotFound { what: "key" });
        };
        let cred = rows::credential(&row)?;
        let detail =
            json!({ "kind": cred.kind.as_str(), "name": cred.name, "prefix": cred.prefix });
        audit::write(&mut tx, actor, action, Some(id), &detail).await?;
        tx.commit().await?;
        Ok(cred)
    }

    /// Record last use, batched: `(credential id, unix seconds)`, in one transaction. Not a
    /// change (no version); an older time never overwrites a newer one; unknown ids are
    /// skipped.
    pub async fn touch_credentials(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, at) in used {
            sqlx::query(
                "UPDATE credentials SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
