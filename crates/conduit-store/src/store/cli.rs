//! Command-line sign-ins (`/auth/cli/*`): a session made for a challenge and bound to one
//! browser, verified by a sign-in, completed by that browser's confirmation, and read once by
//! the command line's poll. Every step is one conditional update, so each happens at most once.
//! An `/oauth/authorize` request is the same row with its redirect URI set (`authorize.rs`):
//! the `/auth/cli/*` steps after the sign-in (complete, poll) never match one.

use sqlx::any::AnyRow;

use super::rows::{get, text};
use super::{new_id, now_s, Store};
use crate::error::on_write;
use crate::{AuthorizeRequest, CliPoll, CliSession, CliStatus, StoreError};

/// The `cli_sessions` columns [`session`] reads.
macro_rules! cli_cols {
    () => {
        "id, challenge, binding_digest, user_id, status, created_at, expires_at, redirect_uri, \
         state"
    };
}
pub(super) use cli_cols;

impl Store {
    /// A pending session. `Conflict` when the challenge has one already.
    pub async fn create_cli_session(
        &self,
        challenge: &str,
        binding_digest: &str,
        expires_at: i64,
    ) -> Result<CliSession, StoreError> {
        self.insert_cli_session(challenge, binding_digest, expires_at, None)
            .await
    }

    /// Insert a pending session (`authorize` set for an `/oauth/authorize` request).
    pub(super) async fn insert_cli_session(
        &self,
        challenge: &str,
        binding_digest: &str,
        expires_at: i64,
        authorize: Option<AuthorizeRequest>,
    ) -> Result<CliSession, StoreError> {
        let session = CliSession {
            id: new_id(),
            challenge: challenge.to_owned(),
            binding_digest: binding_digest.to_owned(),
            user_id: None,
            status: CliStatus::Pending,
            created_at: now_s(),
            expires_at,
            authorize,
        };
        let request = session.authorize.as_ref();
        sqlx::query(
            "INSERT INTO cli_sessions (id, challenge, binding_digest, status, created_at, \
             expires_at, redirect_uri, state) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)",
        )
        .bind(&session.id)
        .bind(challenge)
        .bind(binding_digest)
        .bind(session.created_at)
        .bind(expires_at)
        .bind(request.map(|r| r.redirect_uri.as_str()))
        .bind(request.and_then(|r| r.state.as_deref()))
        .execute(&self.pool)
        .await
        .map_err(|e| on_write(e, "a sign-in with this challenge exists", "cli session"))?;
        Ok(session)
    }

    pub async fn cli_session(&self, id: &str) -> Result<Option<CliSession>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            cli_cols!(),
            " FROM cli_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session).transpose()
    }

    /// Pending and unexpired → verified for `user_id`: the session as it is now; `None`
    /// otherwise (nothing written).
    pub async fn verify_cli_session(
        &self,
        id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<CliSession>, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE cli_sessions SET status = 'verified', user_id = $1 \
             WHERE id = $2 AND status = 'pending' AND expires_at > $3 RETURNING ",
            cli_cols!()
        ))
        .bind(user_id)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| on_write(e, "conflicting sign-in update", "user"))?;
        row.as_ref().map(session).transpose()
    }

    /// Verified, unexpired and confirmed from the browser it is bound to → complete; `false`
    /// otherwise (another browser's confirmation changes nothing, nor does one for an
    /// `/oauth/authorize` request, which is answered with a code instead).
    pub async fn complete_cli_session(
        &self,
        id: &str,
        binding_digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cli_sessions SET status = 'complete' \
             WHERE id = $1 AND status = 'verified' AND binding_digest = $2 AND expires_at > $3 \
             AND redirect_uri IS NULL",
        )
        .bind(id)
        .bind(binding_digest)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The command line's poll: complete → consumed now, with the user (once); pending or
    /// verified → `Pending`; expired → `Expired`; unknown, consumed already, or an
    /// `/oauth/authorize` request (its verifier buys a code's tokens, never a session) →
    /// `NotFound`.
    pub async fn take_cli_session(&self, challenge: &str, now: i64) -> Result<CliPoll, StoreError> {
        let user: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE cli_sessions SET status = 'consumed' \
             WHERE challenge = $1 AND status = 'complete' AND expires_at > $2 \
             AND redirect_uri IS NULL RETURNING user_id",
        )
        .bind(challenge)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(user) = user {
            let user_id =
                user.ok_or_else(|| StoreError::Internal("a complete sign-in has no user".into()))?;
            return Ok(CliPoll::Complete { user_id });
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            cli_cols!(),
            " FROM cli_sessions WHERE challenge = $1 AND redirect_uri IS NULL"
        ))
        .bind(challenge)
        .fetch_optional(&self.pool)
        .await?;
        let Some(found) = row.as_ref().map(session).transpose()? else {
            return Ok(CliPoll::NotFound);
        };
        Ok(match found.status {
            // Read once: afterwards it is as gone as CCAG's deleted row.
            CliStatus::Consumed => CliPoll::NotFound,
            _ if now >= found.expires_at => CliPoll::Expired,
            CliStatus::Pending | CliStatus::Verified | CliStatus::Complete => CliPoll::Pending,
        })
    }
}

pub(super) fn session(row: &AnyRow) -> Result<CliSession, StoreError> {
    let redirect_uri: Option<String> = get(row, "redirect_uri")?;
    let state: Option<String> = get(row, "state")?;
    Ok(CliSession {
        id: get(row, "id")?,
        challenge: get(row, "challenge")?,
        binding_digest: get(row, "binding_digest")?,
        user_id: get(row, "user_id")?,
        status: text(row, "status", CliStatus::parse)?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        authorize: redirect_uri.map(|redirect_uri| AuthorizeRequest {
            redirect_uri,
            state,
        }),
    })
}
