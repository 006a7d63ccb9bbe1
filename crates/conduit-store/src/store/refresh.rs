//! Refresh tokens for the gateway's own access tokens: families that begin at a device sign-in,
//! tokens rotated on every use (a used one presented again is a replay, refused alone), revoked
//! as a whole family, and ended for good at the family's `ends_at`.

use serde_json::json;
use sqlx::AnyConnection;

use super::rows::get;
use super::{audit, new_id, now_s, users, Store};
use crate::error::on_write;
use crate::{Actor, RefreshOutcome, StoreError};

impl Store {
    /// Present a refresh token (see [`RefreshOutcome`]). The first statement marks it used only
    /// if it is live, unused, and its family neither revoked nor ended: of two racing rotations
    /// exactly one matches (Postgres re-checks the row after the other commits; SQLite runs them
    /// one after the other), the other finds it used and is told `Replayed`.
    pub async fn rotate_refresh(
        &self,
        old_digest: &str,
        new_digest: &str,
        now: i64,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL \
             AND family_id IN (SELECT id FROM refresh_families \
                               WHERE revoked_at IS NULL AND ends_at > $1) \
             RETURNING family_id, user_id",
        )
        .bind(now)
        .bind(old_digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = marked else {
            let outcome = unrotated(&mut tx, old_digest, now).await?;
            tx.rollback().await?;
            return Ok(outcome);
        };
        let family_id: String = get(&row, "family_id")?;
        let user_id: String = get(&row, "user_id")?;
        if !users::active(&mut tx, &user_id).await? {
            let version = self.bump(&mut tx).await?;
            revoke_families(&mut tx, Families::One(&family_id), now, version).await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Invalid);
        }
        insert_token(&mut tx, new_digest, &family_id, &user_id, now).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated { user_id, family_id })
    }

    /// Revoke the family of the token with `digest`: `true` when it was live until now.
    /// Audited as `token.revoke`.
    pub async fn revoke_refresh(&self, digest: &str, actor: &Actor) -> Result<bool, StoreError> {
        let family: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
        match family {
            Some(family) => self.revoke_family(&family, actor).await,
            None => Ok(false),
        }
    }

    /// Revoke a family (every token of it): `true` when it was live until now. Bumps the change
    /// version and is audited as `token.revoke`.
    pub async fn revoke_family(&self, family_id: &str, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let users = revoke_families(&mut tx, Families::One(family_id), now_s(), version).await?;
        let Some(user) = users.first() else {
            tx.rollback().await?;
            return Ok(false);
        };
        let detail = json!({ "family_id": family_id, "user_id": user });
        audit::write(&mut tx, actor, "token.revoke", Some(family_id), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the family may still be used at `now`: not revoked, not ended, its user active.
    pub async fn family_alive(&self, family_id: &str, now: i64) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT f.id FROM refresh_families f JOIN users u ON u.id = f.user_id \
             WHERE f.id = $1 AND f.revoked_at IS NULL AND f.ends_at > $2 AND u.active = 1",
        )
        .bind(family_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

/// Why a presented token was not rotated: used in a live family → `Replayed`; else `Invalid`.
async fn unrotated(
    conn: &mut AnyConnection,
    digest: &str,
    now: i64,
) -> Result<RefreshOutcome, StoreError> {
    let replayed: Option<String> = sqlx::query_scalar(
        "SELECT t.id FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
         WHERE t.digest = $1 AND t.used_at IS NOT NULL AND t.revoked_at IS NULL \
         AND f.revoked_at IS NULL AND f.ends_at > $2",
    )
    .bind(digest)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match replayed {
        Some(_) => RefreshOutcome::Replayed,
        None => RefreshOutcome::Invalid,
    })
}

/// Begin a family for `user_id` ending at `ends_at`, with its first token; the family id.
pub(super) async fn start_family(
    conn: &mut AnyConnection,
    user_id: &str,
    digest: &str,
    ends_at: i64,
    now: i64,
) -> Result<String, StoreError> {
    let family_id = new_id();
    sqlx::query(
        "INSERT INTO refresh_families (id, user_id, created_at, ends_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&family_id)
    .bind(user_id)
    .bind(now)
    .bind(ends_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_write(e, "conflicting refresh family", "user"))?;
    insert_token(conn, digest, &family_id, user_id, now).await?;
    Ok(family_id)
}

async fn insert_token(
    conn: &mut AnyConnection,
    digest: &str,
    family_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, digest, family_id, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(digest)
    .bind(family_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_write(e, "a refresh token with this digest exists", "user"))?;
    Ok(())
}

/// Which families [`revoke_families`] ends.
pub(super) enum Families<'a> {
    One(&'a str),
    OfUser(&'a str),
}

/// Revoke the live families named at `now`: the user of each family revoked now.
pub(super) async fn revoke_families(
    conn: &mut AnyConnection,
    which: Families<'_>,
    now: i64,
    version: i64,
) -> Result<Vec<String>, StoreError> {
    let (sql, value) = match which {
        Families::One(id) => (
            "UPDATE refresh_families SET revoked_at = $1, version = $3 \
             WHERE revoked_at IS NULL AND id = $2 RETURNING user_id",
            id,
        ),
        Families::OfUser(user) => (
            "UPDATE refresh_families SET revoked_at = $1, version = $3 \
             WHERE revoked_at IS NULL AND user_id = $2 RETURNING user_id",
            user,
        ),
    };
    let users = sqlx::query_scalar(sql)
        .bind(now)
        .bind(value)
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
    Ok(users)
}
