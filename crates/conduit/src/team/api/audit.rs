//! `GET /admin/audit?limit=&before=`: the audit log, newest first, paged by entry id.

use axum::extract::{Query, RawQuery};
use axum::Json;
use serde_json::{json, Value};

use super::caller::Reader;
use super::error::{ApiError, ApiResult};
use super::wire::{AuditQuery, AuditView};
use crate::state::TeamState;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub async fn list(team: TeamState, _: Reader, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let query = parse(raw.as_deref().unwrap_or(""))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: must be between 1 and {MAX_LIMIT} (got {limit})"
        )));
    }
    let entries: Vec<AuditView> = team
        .store
        .list_audit(limit, query.before.as_deref())
        .await?
        .into_iter()
        .map(AuditView::from)
        .collect();
    Ok(Json(json!({ "entries": entries })))
}

/// The query string, with axum's rejection worded as our 400.
fn parse(raw: &str) -> Result<AuditQuery, ApiError> {
    let uri = format!("/?{raw}");
    let uri: axum::http::Uri = uri
        .parse()
        .map_err(|_| ApiError::invalid("the query string is not valid"))?;
    Query::<AuditQuery>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::invalid(format!("query: {}", e.body_text())))
}
