//! Users: create, list, look up, and the audited changes (team, active, role, password).

use serde_json::json;
use sqlx::AnyConnection;

use super::refresh::{revoke_families, Families};
use super::rows::{self, user_cols};
use super::{audit, new_id, now_s, teams, Store};
use crate::error::on_write;
use crate::{Actor, NewUser, Role, StoreError, User};

impl Store {
    /// `Conflict` when the subject is taken; `NotFound{what:"team"}` for an unknown team.
    pub async fn create_user(&self, new: &NewUser, actor: &Actor) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        if let Some(team) = &new.team_id {
            teams::require(&mut tx, team).await?;
        }
        let user = User {
            id: new_id(),
            subject: new.subject.clone(),
            email: new.email.clone(),
            role: new.role,
            team_id: new.team_id.clone(),
            active: true,
            password_hash: new.password_hash.clone(),
            created_at: now_s(),
            version,
            issuer: None,
            external_subject: None,
            idp_id: None,
        };
        sqlx::query(
            "INSERT INTO users \
             (id, subject, email, role, team_id, active, password_hash, created_at, version) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
        )
        .bind(&user.id)
        .bind(&user.subject)
        .bind(user.email.as_deref())
        .bind(user.role.as_str())
        .bind(user.team_id.as_deref())
        .bind(user.password_hash.as_deref())
        .bind(user.created_at)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_write(
                e,
                &format!("subject {:?} is already taken by another user", new.subject),
                "team",
            )
        })?;
        let detail = json!({
            "subject": user.subject,
            "email": user.email,
            "role": user.role.as_str(),
            "team_id": user.team_id,
            "password": user.password_hash.is_some(),
        });
        audit::write(&mut tx, actor, "user.create", Some(&user.id), &detail).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, rows::user)
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    pub async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE subject = $1"
        ))
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    /// `NotFound` for an unknown user or team; `None` takes the user out of their team.
    /// Audited as `user.team`.
    pub async fn set_user_team(
        &self,
        id: &str,
        team_id: Option<&str>,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        if let Some(team) = team_id {
            teams::require(&mut tx, team).await?;
        }
        let query = sqlx::query(concat!(
            "UPDATE users SET team_id = $1, version = $2 WHERE id = $3 RETURNING ",
            user_cols!()
        ))
        .bind(team_id);
        let user = update(&mut tx, query, version, id)
            .await
            .map_err(|e| on_write(e, "conflicting user update", "team"))??;
        audit::write(
            &mut tx,
            actor,
            "user.team",
            Some(id),
            &json!({ "team_id": team_id }),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Deactivate (`false`) or bring back (`true`) a user, audited as `user.update`. Their keys
    /// and sessions stay (the auth cache refuses them while the user is inactive); deactivating
    /// revokes their refresh-token families for good, in the same transaction.
    pub async fn set_user_active(
        &self,
        id: &str,
        active: bool,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let query = sqlx::query(concat!(
            "UPDATE users SET active = $1, version = $2 WHERE id = $3 RETURNING ",
            user_cols!()
        ))
        .bind(i64::from(active));
        let user = update(&mut tx, query, version, id).await??;
        let mut detail = json!({ "active": active });
        if !active {
            let ended = revoke_families(&mut tx, Families::OfUser(id), now_s(), version).await?;
            detail["token_families_revoked"] = ended.len().into();
        }
        audit::write(&mut tx, actor, "user.update", Some(id), &detail).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Change a user's role, audited as `user.update`.
    pub async fn set_user_role(
        &self,
        id: &str,
        role: Role,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let query = sqlx::query(concat!(
            "UPDATE users SET role = $1, version = $2 WHERE id = $3 RETURNING ",
            user_cols!()
        ))
        .bind(role.as_str());
        let user = update(&mut tx, query, version, id).await??;
        let detail = json!({ "role": role.as_str() });
        audit::write(&mut tx, actor, "user.update", Some(id), &detail).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Replace a user's password hash (and revoke their sessions), audited as `action`; the
    /// detail counts the sessions ended, never the hash.
    pub async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        action: &str,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let query = sqlx::query(concat!(
            "UPDATE users SET password_hash = $1, version = $2 WHERE id = $3 RETURNING ",
            user_cols!()
        ))
        .bind(password_hash);
        let user = update(&mut tx, query, version, id).await??;
        let ended = end_sessions(&mut tx, id, version).await?;
        let detail = json!({ "sessions_ended": ended });
        audit::write(&mut tx, actor, action, Some(id), &detail).await?;
        tx.commit().await?;
        Ok(user)
    }
}

/// Revoke every live session of `user_id` at `version`; how many.
async fn end_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
    version: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE credentials SET revoked_at = $1, version = $2 \
         WHERE user_id = $3 AND kind = 'session' AND revoked_at IS NULL",
    )
    .bind(now_s())
    .bind(version)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Finish one of the `UPDATE users SET <column> = $1, version = $2 WHERE id = $3 RETURNING …`
/// queries (its `$1` bound) and decode the row: the driver's error on the outside (each caller
/// classifies its own), `NotFound{what:"user"}` inside.
async fn update<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    version: i64,
    id: &'q str,
) -> Result<Result<User, StoreError>, sqlx::Error> {
    let row = query
        .bind(version)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found(row.as_ref()))
}

/// The updated user row, or `NotFound{what:"user"}` (the transaction then rolls back on drop).
fn found(row: Option<&sqlx::any::AnyRow>) -> Result<User, StoreError> {
    row.map(rows::user)
        .transpose()?
        .ok_or(StoreError::NotFound { what: "user" })
}

/// `NotFound{what:"user"}` unless the user `id` exists (inside the caller's transaction).
pub(super) async fn require(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found
        .map(|_| ())
        .ok_or(StoreError::NotFound { what: "user" })
}

/// Whether user `id` exists and is active, read on `conn` (inside the caller's transaction).
pub(super) async fn active(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let active: Option<i64> = sqlx::query_scalar("SELECT active FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(active.unwrap_or(0) != 0)
}
