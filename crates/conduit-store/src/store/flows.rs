//! Pending authorization-code flows at an identity provider: stored at the redirect, found by
//! the `state`'s digest at the callback and taken (deleted) exactly once.

use sqlx::any::AnyRow;

use super::rows::{get, text};
use super::{now_s, Store};
use crate::error::on_write;
use crate::{Flow, FlowPurpose, NewFlow, StoreError};

impl Store {
    /// `Conflict` when a flow with this state digest is pending already.
    pub async fn create_flow(&self, new: &NewFlow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_flows (state_digest, purpose, idp_id, nonce, pkce_verifier, \
             redirect_uri, binding_digest, target, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&new.state_digest)
        .bind(new.purpose.as_str())
        .bind(&new.idp_id)
        .bind(&new.nonce)
        .bind(&new.pkce_verifier)
        .bind(&new.redirect_uri)
        .bind(&new.binding_digest)
        .bind(new.target.as_deref())
        .bind(now_s())
        .bind(new.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| on_write(e, "a flow with this state is pending already", "flow"))?;
        Ok(())
    }

    /// Take the flow (one statement: it is deleted whatever it holds, so a state works once,
    /// even with two callbacks racing). `None` when absent, taken already or expired at `now`.
    pub async fn take_flow(
        &self,
        state_digest: &str,
        now: i64,
    ) -> Result<Option<Flow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM auth_flows WHERE state_digest = $1 RETURNING state_digest, purpose, \
             idp_id, nonce, pkce_verifier, redirect_uri, binding_digest, target, created_at, \
             expires_at",
        )
        .bind(state_digest)
        .fetch_optional(&self.pool)
        .await?;
        let flow = row.as_ref().map(flow).transpose()?;
        Ok(flow.filter(|f| now < f.expires_at))
    }
}

fn flow(row: &AnyRow) -> Result<Flow, StoreError> {
    Ok(Flow {
        state_digest: get(row, "state_digest")?,
        purpose: text(row, "purpose", FlowPurpose::parse)?,
        idp_id: get(row, "idp_id")?,
        nonce: get(row, "nonce")?,
        pkce_verifier: get(row, "pkce_verifier")?,
        redirect_uri: get(row, "redirect_uri")?,
        binding_digest: get(row, "binding_digest")?,
        target: get(row, "target")?,
        expires_at: get(row, "expires_at")?,
        created_at: get(row, "created_at")?,
    })
}
