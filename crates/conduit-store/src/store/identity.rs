//! People from an identity provider: found by `(issuer, external_subject)`, provisioned on first
//! sign-in (audited `user.provision`), their e-mail refreshed on each sign-in.

use serde_json::json;

use super::rows::{self, user_cols};
use super::{audit, new_id, now_s, Store};
use crate::error::on_write;
use crate::{Actor, NewOidcUser, StoreError, User};

impl Store {
    pub async fn user_by_identity(
        &self,
        issuer: &str,
        external_subject: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE issuer = $1 AND external_subject = $2"
        ))
        .bind(issuer)
        .bind(external_subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    /// A new active user for an identity, its subject `"{sub}@{issuer}"`, no password. `Conflict`
    /// when the identity (or that subject) has a user already. Audited as `user.provision`.
    pub async fn provision_oidc_user(
        &self,
        new: &NewOidcUser,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let user = User {
            id: new_id(),
            subject: format!("{}@{}", new.external_subject, new.issuer),
            email: new.email.clone(),
            role: new.role,
            team_id: None,
            active: true,
            password_hash: None,
            created_at: now_s(),
            version,
            issuer: Some(new.issuer.clone()),
            external_subject: Some(new.external_subject.clone()),
            idp_id: Some(new.idp_id.clone()),
        };
        sqlx::query(
            "INSERT INTO users (id, subject, email, role, team_id, active, password_hash, \
             created_at, version, issuer, external_subject, idp_id) \
             VALUES ($1, $2, $3, $4, NULL, 1, NULL, $5, $6, $7, $8, $9)",
        )
        .bind(&user.id)
        .bind(&user.subject)
        .bind(user.email.as_deref())
        .bind(user.role.as_str())
        .bind(user.created_at)
        .bind(version)
        .bind(&new.issuer)
        .bind(&new.external_subject)
        .bind(&new.idp_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_write(
                e,
                &format!("a user for subject {:?} already exists", user.subject),
                "user",
            )
        })?;
        let detail = json!({
            "subject": user.subject,
            "email": user.email,
            "role": user.role.as_str(),
            "issuer": new.issuer,
            "idp_id": new.idp_id,
        });
        audit::write(&mut tx, actor, "user.provision", Some(&user.id), &detail).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Refresh a user's e-mail (an attribute from the identity provider): a new version, not
    /// audited. `NotFound{what:"user"}`.
    pub async fn set_user_email(&self, id: &str, email: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let done = sqlx::query("UPDATE users SET email = $1, version = $2 WHERE id = $3")
            .bind(email)
            .bind(version)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound { what: "user" });
        }
        tx.commit().await?;
        Ok(())
    }
}
