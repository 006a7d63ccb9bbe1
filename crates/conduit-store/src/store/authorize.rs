//! Authorization code + PKCE (`/oauth/authorize`, `conduit token login`): a command-line sign-in
//! row (`cli.rs`) that also holds the request's loopback redirect URI and state. The person's
//! Connect stores the digest of a one-time code (the row's end becomes the code's), Cancel
//! consumes the row; the token endpoint's redemption consumes the code first — whatever the
//! verifier — and stores the first refresh token of a new family in the same transaction, so a
//! code issues at most once.

use serde_json::json;
use subtle::ConstantTimeEq;

use super::cli::{cli_cols, session};
use super::rows::get;
use super::{audit, refresh, users, Store};
use crate::error::on_write;
use crate::{Actor, AuthorizeRequest, CliSession, CodeExchange, CodeRedemption, StoreError};

impl Store {
    /// A pending `/oauth/authorize` sign-in for the S256 challenge (as 64 hex). `Conflict` when
    /// the challenge has a sign-in already.
    pub async fn create_authorize_session(
        &self,
        challenge: &str,
        binding_digest: &str,
        expires_at: i64,
        request: AuthorizeRequest,
    ) -> Result<CliSession, StoreError> {
        self.insert_cli_session(challenge, binding_digest, expires_at, Some(request))
            .await
    }

    /// The person connected: a verified, unexpired authorize request confirmed from the browser
    /// it is bound to gets the code (by its digest), valid until `code_expires_at`. `false`
    /// otherwise (nothing written). Audited as `authorize.approve`.
    pub async fn approve_authorization(
        &self,
        id: &str,
        binding_digest: &str,
        code_digest: &str,
        code_expires_at: i64,
        now: i64,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE cli_sessions SET status = 'complete', code_digest = $1, expires_at = $2 \
             WHERE id = $3 AND status = 'verified' AND binding_digest = $4 AND expires_at > $5 \
             AND redirect_uri IS NOT NULL RETURNING user_id",
        )
        .bind(code_digest)
        .bind(code_expires_at)
        .bind(id)
        .bind(binding_digest)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| on_write(e, "an authorization code with this digest exists", "user"))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let user_id: Option<String> = get(&row, "user_id")?;
        let detail = json!({ "user_id": user_id });
        audit::write(&mut tx, actor, "authorize.approve", Some(id), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The person cancelled: a verified, unexpired authorize request from the browser it is
    /// bound to is consumed without a code (`false` otherwise). Audited as `authorize.deny`.
    pub async fn deny_authorization(
        &self,
        id: &str,
        binding_digest: &str,
        now: i64,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE cli_sessions SET status = 'consumed' \
             WHERE id = $1 AND status = 'verified' AND binding_digest = $2 AND expires_at > $3 \
             AND redirect_uri IS NOT NULL RETURNING user_id",
        )
        .bind(id)
        .bind(binding_digest)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let user_id: Option<String> = get(&row, "user_id")?;
        let detail = json!({ "user_id": user_id });
        audit::write(&mut tx, actor, "authorize.deny", Some(id), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The token endpoint's `authorization_code` grant (see [`CodeRedemption`]), in one
    /// transaction. The first statement consumes the code if it is live, whatever else was
    /// presented: of two racing redemptions exactly one matches (Postgres re-checks the row
    /// after the other commits; SQLite takes the write lock first), and a wrong verifier or
    /// redirect URI spends it too. Verifier and redirect URI are compared in constant time.
    pub async fn redeem_authorization_code(
        &self,
        code: CodeExchange<'_>,
        refresh_digest: &str,
        refresh_family_ends_at: i64,
        now: i64,
    ) -> Result<CodeRedemption, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE cli_sessions SET status = 'consumed' \
             WHERE code_digest = $1 AND status = 'complete' AND expires_at > $2 \
             AND redirect_uri IS NOT NULL RETURNING ",
            cli_cols!()
        ))
        .bind(code.code_digest)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(found) = row.as_ref().map(session).transpose()? else {
            tx.rollback().await?;
            return Ok(CodeRedemption::Invalid);
        };
        let redirect_uri = found
            .authorize
            .as_ref()
            .map(|a| a.redirect_uri.as_str())
            .unwrap_or_default();
        let refusal = if !same(&found.challenge, code.verifier_digest) {
            Some(CodeRedemption::WrongVerifier)
        } else if !same(redirect_uri, code.redirect_uri) {
            Some(CodeRedemption::WrongRedirectUri)
        } else {
            None
        };
        let user_id = found.user_id.unwrap_or_default();
        let refusal = match refusal {
            Some(r) => Some(r),
            // Deactivated since connecting: spent, and no tokens.
            None if !users::active(&mut tx, &user_id).await? => Some(CodeRedemption::Invalid),
            None => None,
        };
        if let Some(refusal) = refusal {
            tx.commit().await?;
            return Ok(refusal);
        }
        let family_id = refresh::start_family(
            &mut tx,
            &user_id,
            refresh_digest,
            refresh_family_ends_at,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(CodeRedemption::Issued { user_id, family_id })
    }
}

/// Constant-time equality of two strings (the length is not hidden: digests have one length).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
