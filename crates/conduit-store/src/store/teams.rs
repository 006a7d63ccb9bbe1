//! Teams: create (audited), list, look up. Not part of the change feed: a team does not decide
//! who may call.

use serde_json::json;
use sqlx::AnyConnection;

use super::rows::{self, team_cols};
use super::{audit, new_id, now_s, Store};
use crate::error::on_write;
use crate::{Actor, StoreError, Team};

impl Store {
    /// `Conflict` when the name is taken. Audited as `team.create`.
    pub async fn create_team(&self, name: &str, actor: &Actor) -> Result<Team, StoreError> {
        let team = Team {
            id: new_id(),
            name: name.to_owned(),
            created_at: now_s(),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&team.id)
            .bind(&team.name)
            .bind(team.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_write(e, &format!("team name {name:?} is already taken"), "team"))?;
        let detail = json!({ "name": team.name });
        audit::write(&mut tx, actor, "team.create", Some(&team.id), &detail).await?;
        tx.commit().await?;
        Ok(team)
    }

    /// Every team, oldest first.
    pub async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            team_cols!(),
            " FROM teams ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&rows, rows::team)
    }

    pub async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            team_cols!(),
            " FROM teams WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::team).transpose()
    }
}

/// `NotFound{what:"team"}` unless the team `id` exists (inside the caller's transaction).
pub(super) async fn require(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM teams WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found
        .map(|_| ())
        .ok_or(StoreError::NotFound { what: "team" })
}
