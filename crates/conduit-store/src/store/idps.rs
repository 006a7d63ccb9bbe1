//! Identity providers configured through `/admin/idps`: create, list, look up, change and soft
//! delete. Every write is audited and bumps the change version (the feed carries deleted rows
//! too, so that instances drop them). The client secret never reaches the audit.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::rows::{self, get};
use super::{audit, new_id, now_s, Store};
use crate::error::on_write;
use crate::{Actor, Idp, IdpPatch, NewIdp, Role, StoreError};

/// The `idps` columns [`idp`] reads, in order.
macro_rules! idp_cols {
    () => {
        "id, name, issuer_url, audience, client_id, client_secret, auto_provision, default_role, \
         allowed_domains, scopes, enabled, created_at, deleted, version"
    };
}
pub(super) use idp_cols;

impl Store {
    /// `Conflict` when a live provider has the name. Audited as `idp.create`.
    pub async fn create_idp(&self, new: &NewIdp, actor: &Actor) -> Result<Idp, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let idp = Idp::from_new(new.clone(), new_id(), now_s(), version);
        write(&mut tx, &idp, Write::Insert).await?;
        audit::write(&mut tx, actor, "idp.create", Some(&idp.id), &detail(&idp)).await?;
        tx.commit().await?;
        Ok(idp)
    }

    /// The live providers, oldest first.
    pub async fn list_idps(&self) -> Result<Vec<Idp>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            idp_cols!(),
            " FROM idps WHERE deleted = 0 ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(idp).collect()
    }

    /// A live provider.
    pub async fn idp(&self, id: &str) -> Result<Option<Idp>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        live(&mut conn, id).await
    }

    /// Apply `patch` to a live provider. `NotFound{what:"idp"}`; `Conflict` for a taken name.
    /// Audited as `idp.update` with the fields changed (the secret only as set or cleared).
    pub async fn update_idp(
        &self,
        id: &str,
        patch: &IdpPatch,
        actor: &Actor,
    ) -> Result<Idp, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let mut idp = live(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound { what: "idp" })?;
        apply(&mut idp, patch);
        idp.version = version;
        write(&mut tx, &idp, Write::Update).await?;
        let mut changed = detail(&idp);
        if let Some(fields) = changed.as_object_mut() {
            fields.retain(|k, _| patched(patch, k));
        }
        audit::write(&mut tx, actor, "idp.update", Some(id), &changed).await?;
        tx.commit().await?;
        Ok(idp)
    }

    /// Soft delete: the row stays, `deleted` and a new version, so the feed carries it.
    /// `NotFound{what:"idp"}` for an unknown or already deleted one. Audited as `idp.delete`.
    pub async fn delete_idp(&self, id: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let version = self.bump(&mut tx).await?;
        let name: Option<String> = sqlx::query_scalar(
            "UPDATE idps SET deleted = 1, version = $1 WHERE id = $2 AND deleted = 0 \
             RETURNING name",
        )
        .bind(version)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let name = name.ok_or(StoreError::NotFound { what: "idp" })?;
        audit::write(
            &mut tx,
            actor,
            "idp.delete",
            Some(id),
            &json!({ "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A live provider on `conn`.
async fn live(conn: &mut AnyConnection, id: &str) -> Result<Option<Idp>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        idp_cols!(),
        " FROM idps WHERE id = $1 AND deleted = 0"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(idp).transpose()
}

enum Write {
    Insert,
    Update,
}

/// Insert the row, or overwrite every changeable column of it (one bind list for both: the
/// update matches `created_at` too, which never changes, only to use every parameter).
async fn write(conn: &mut AnyConnection, idp: &Idp, how: Write) -> Result<(), StoreError> {
    let sql = match how {
        Write::Insert => {
            "INSERT INTO idps (name, issuer_url, audience, client_id, client_secret, \
             auto_provision, default_role, allowed_domains, scopes, enabled, version, id, \
             created_at, deleted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)"
        }
        Write::Update => {
            "UPDATE idps SET name = $1, issuer_url = $2, audience = $3, client_id = $4, \
             client_secret = $5, auto_provision = $6, default_role = $7, allowed_domains = $8, \
             scopes = $9, enabled = $10, version = $11 WHERE id = $12 AND created_at = $13"
        }
    };
    let domains = serde_json::to_string(&idp.allowed_domains)
        .map_err(|e| StoreError::Internal(format!("allowed_domains: {e}")))?;
    sqlx::query(sql)
        .bind(&idp.name)
        .bind(&idp.issuer_url)
        .bind(&idp.audience)
        .bind(idp.client_id.as_deref())
        .bind(idp.client_secret.as_deref())
        .bind(i64::from(idp.auto_provision))
        .bind(idp.default_role.as_str())
        .bind(domains)
        .bind(idp.scopes.as_deref())
        .bind(i64::from(idp.enabled))
        .bind(idp.version)
        .bind(&idp.id)
        .bind(idp.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            on_write(
                e,
                &format!("an identity provider named {:?} already exists", idp.name),
                "idp",
            )
        })?;
    Ok(())
}

fn apply(idp: &mut Idp, p: &IdpPatch) {
    fn set<T: Clone>(field: &mut T, value: &Option<T>) {
        if let Some(v) = value {
            *field = v.clone();
        }
    }
    set(&mut idp.name, &p.name);
    set(&mut idp.issuer_url, &p.issuer_url);
    set(&mut idp.audience, &p.audience);
    set(&mut idp.client_id, &p.client_id);
    set(&mut idp.client_secret, &p.client_secret);
    set(&mut idp.auto_provision, &p.auto_provision);
    set(&mut idp.default_role, &p.default_role);
    set(&mut idp.allowed_domains, &p.allowed_domains);
    set(&mut idp.scopes, &p.scopes);
    set(&mut idp.enabled, &p.enabled);
}

/// Whether the audit field `key` (as [`detail`] names it) is in the patch.
fn patched(p: &IdpPatch, key: &str) -> bool {
    match key {
        "name" => p.name.is_some(),
        "issuer_url" => p.issuer_url.is_some(),
        "audience" => p.audience.is_some(),
        "client_id" => p.client_id.is_some(),
        "has_client_secret" => p.client_secret.is_some(),
        "auto_provision" => p.auto_provision.is_some(),
        "default_role" => p.default_role.is_some(),
        "allowed_domains" => p.allowed_domains.is_some(),
        "scopes" => p.scopes.is_some(),
        "enabled" => p.enabled.is_some(),
        _ => false,
    }
}

/// The audit detail of a provider: every field but the secret, which is only said to be there.
fn detail(idp: &Idp) -> serde_json::Value {
    json!({
        "name": idp.name,
        "issuer_url": idp.issuer_url,
        "audience": idp.audience,
        "client_id": idp.client_id,
        "has_client_secret": idp.client_secret.is_some(),
        "auto_provision": idp.auto_provision,
        "default_role": idp.default_role.as_str(),
        "allowed_domains": idp.allowed_domains,
        "scopes": idp.scopes,
        "enabled": idp.enabled,
    })
}

pub(super) fn idp(row: &AnyRow) -> Result<Idp, StoreError> {
    let domains: String = get(row, "allowed_domains")?;
    Ok(Idp {
        id: get(row, "id")?,
        name: get(row, "name")?,
        issuer_url: get(row, "issuer_url")?,
        audience: get(row, "audience")?,
        client_id: get(row, "client_id")?,
        client_secret: get(row, "client_secret")?,
        auto_provision: get::<i64>(row, "auto_provision")? != 0,
        default_role: rows::text(row, "default_role", Role::parse)?,
        allowed_domains: serde_json::from_str(&domains)
            .map_err(|e| StoreError::Internal(format!("idps.allowed_domains is not JSON: {e}")))?,
        scopes: get(row, "scopes")?,
        enabled: get::<i64>(row, "enabled")? != 0,
        created_at: get(row, "created_at")?,
        deleted: get::<i64>(row, "deleted")? != 0,
        version: get(row, "version")?,
    })
}
