//! `/v1/organizations/spend_limits`: spend limits over the wire shapes of Anthropic's Admin API
//! (upsert keyed on scope and period, list, get, delete, the effective per-member report and the
//! audit of changes), plus conduit's pool scopes (`team`, `key`, `gateway`). Admins write,
//! admins and auditors read; every answer carries a `request-id`. Each write is audited by the
//! store and put in force on this instance before the answer (the others reload on their
//! refresh tick).

use std::collections::HashMap;

use axum::extract::{Path, RawQuery};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use conduit_spend::Period;
use conduit_store::{CredentialKind, LimitPage, SpendLimit, SpendPeriod, SpendScope, Team, User};
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::spend_limits_wire::{
    audit_json, cents, limit_json, list_envelope, many, page_limit, parse_period, parse_upsert,
    query_pairs, request_id, scope_json, single, CURRENCY,
};
use crate::state::{AppState, TeamState};

/// Page sizes: Anthropic's default and maximum.
const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 1000;
/// The most members one `/effective` call may name.
const MAX_USER_IDS: usize = 100;

/// The routes, each answer with a `request-id` header.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organizations/spend_limits", post(upsert).get(list))
        .route("/v1/organizations/spend_limits/effective", get(effective))
        .route("/v1/organizations/spend_limits/audit", get(audit))
        .route(
            "/v1/organizations/spend_limits/{id}",
            get(get_one).delete(delete),
        )
        .route_layer(axum::middleware::from_fn(request_id))
}

/// `POST`: create or replace the limit for `(scope, period)`; the object.
async fn upsert(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(body): AdminJson<Value>,
) -> ApiResult<Json<Value>> {
    let limit = upsert_limit(&team, &caller.actor(), &body).await?;
    Ok(Json(limit_json(&limit)))
}

/// Validate (the wire shape of `POST`), check the pool's target exists, store (audited), put
/// in force here.
pub(crate) async fn upsert_limit(
    team: &TeamState,
    actor: &conduit_store::Actor,
    body: &Value,
) -> ApiResult<SpendLimit> {
    let new = parse_upsert(body)?;
    match new.scope_type {
        SpendScope::Team if team.store.team(&new.scope_id).await?.is_none() => {
            return Err(ApiError::not_found("team"));
        }
        SpendScope::Key => {
            let key = team.store.credential(&new.scope_id).await?;
            if !key.is_some_and(|k| k.kind == CredentialKind::Key) {
                return Err(ApiError::not_found("key"));
            }
        }
        _ => {}
    }
    let (limit, _created) = team.store.upsert_spend_limit(&new, actor).await?;
    reload(team).await;
    Ok(limit)
}

/// `GET ?limit=&after_id=&before_id=&scope_type=`: newest first.
async fn list(team: TeamState, _: Reader, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(raw.as_deref());
    let scope_type = match single(&pairs, "scope_type")? {
        None => None,
        Some(t) => Some(SpendScope::parse(t).ok_or_else(|| {
            ApiError::invalid(format!(
                "scope_type: unknown scope type {t:?}: expected user, rbac_group, \
                 organization, team, key or gateway"
            ))
        })?),
    };
    let page = LimitPage {
        limit: page_limit(&pairs, DEFAULT_PAGE, MAX_PAGE)?,
        after_id: single(&pairs, "after_id")?.map(str::to_owned),
        before_id: single(&pairs, "before_id")?.map(str::to_owned),
        scope_type,
    };
    if page.after_id.is_some() && page.before_id.is_some() {
        return Err(ApiError::invalid(
            "after_id and before_id: give at most one of them",
        ));
    }
    let listed = team.store.list_spend_limits(&page).await?;
    let data = listed.data.iter().map(limit_json).collect();
    Ok(Json(list_envelope(data, listed.has_more)))
}

/// `GET /{id}`.
async fn get_one(team: TeamState, _: Reader, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let limit = team
        .store
        .spend_limit(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("spend limit"))?;
    Ok(Json(limit_json(&limit)))
}

/// `DELETE /{id}`: `{"type":"spend_limit_deleted","id"}`.
async fn delete(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    delete_limit(&team, &caller.actor(), &id).await?;
    Ok(Json(json!({ "type": "spend_limit_deleted", "id": id })))
}

/// Delete a spend limit (audited) and stop enforcing it here.
pub(crate) async fn delete_limit(
    team: &TeamState,
    actor: &conduit_store::Actor,
    id: &str,
) -> ApiResult<()> {
    team.store.delete_spend_limit(id, actor).await?;
    reload(team).await;
    Ok(())
}

/// `GET /audit?limit=&after_id=`: the changes to spend limits, newest first.
async fn audit(team: TeamState, _: Reader, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(raw.as_deref());
    let limit = page_limit(&pairs, DEFAULT_PAGE, MAX_PAGE)?;
    let after = single(&pairs, "after_id")?;
    let (entries, has_more) = team.store.spend_limit_audit(limit, after).await?;
    let data = entries.iter().map(audit_json).collect();
    Ok(Json(list_envelope(data, has_more)))
}

/// `GET /effective?user_ids[]=&period[]=&limit=&page=`: per member (active users, by subject)
/// and period, the per-seat limit in force and where it comes from (`source`: the user's own,
/// their team's `rbac_group`, the organization's), and their spend so far this period in cents.
/// Without `period[]`, only the periods a limit resolves for; with it, those periods always
/// (`source` null when none does). Pages hold `limit` members; `next_page` is opaque.
async fn effective(team: TeamState, _: Reader, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(raw.as_deref());
    let limit = page_limit(&pairs, DEFAULT_PAGE, MAX_PAGE)? as usize;
    let wanted_users = many(&pairs, "user_ids");
    if wanted_users.len() > MAX_USER_IDS {
        return Err(ApiError::invalid(format!(
            "user_ids: at most {MAX_USER_IDS} entries"
        )));
    }
    let asked: Vec<SpendPeriod> = many(&pairs, "period")
        .iter()
        .map(|p| parse_period(p))
        .collect::<Result<_, _>>()?;
    let periods = if asked.is_empty() {
        vec![
            SpendPeriod::Daily,
            SpendPeriod::Weekly,
            SpendPeriod::Monthly,
            SpendPeriod::Total,
        ]
    } else {
        asked.clone()
    };
    let after = match single(&pairs, "page")? {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor)?),
    };

    let limits = team.store.all_spend_limits().await?;
    let budget: Vec<conduit_spend::Limit> = limits
        .iter()
        .filter_map(|l| crate::team::spend::limits::budget_limit(l, l.scope_id.clone()))
        .collect();
    let teams: HashMap<String, Team> = team
        .store
        .list_teams()
        .await?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mut users: Vec<User> = team
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active)
        .filter(|u| {
            wanted_users.is_empty() || wanted_users.iter().any(|w| *w == u.subject || *w == u.id)
        })
        .filter(|u| after.as_ref().is_none_or(|a| u.subject > *a))
        .collect();
    users.sort_by(|a, b| a.subject.cmp(&b.subject));

    // Members with at least one row, one more than a page to know whether more follow.
    let mut page: Vec<(User, Vec<PeriodSource<'_>>)> = Vec::new();
    let mut has_more = false;
    for user in users {
        let group = user.team_id.as_ref().and_then(|t| teams.get(t));
        let rows: Vec<PeriodSource<'_>> = periods
            .iter()
            .map(|p| (*p, per_seat(&limits, &budget, &user, group, *p)))
            .filter(|(_, source)| source.is_some() || !asked.is_empty())
            .collect();
        if rows.is_empty() {
            continue;
        }
        if page.len() == limit {
            has_more = true;
            break;
        }
        page.push((user, rows));
    }

    let spend = &team.spend;
    let now = spend.now();
    let windows: Vec<(&str, i64)> = periods
        .iter()
        .map(|p| (p.as_str(), window_start(*p, now, &spend.tz)))
        .collect();
    let scopes: Vec<String> = page.iter().map(|(u, _)| user_scope(&u.id)).collect();
    let totals = team.store.scope_totals(&scopes, &windows).await?;
    let spent = |user_id: &str, period: SpendPeriod| -> i64 {
        let scope = user_scope(user_id);
        let start = window_start(period, now, &spend.tz);
        totals
            .iter()
            .find(|t| t.scope == scope && t.period == period.as_str() && t.period_start == start)
            .map_or(0, |t| t.cost_nanos)
    };

    let mut data = Vec::new();
    for (user, rows) in &page {
        for (period, source) in rows {
            data.push(json!({
                "actor": { "type": "user", "user_id": user.subject, "email": user.email },
                "scope": scope_json(SpendScope::User, &user.subject),
                "source": source.map(|l| scope_json(l.scope_type, &l.scope_id)),
                "spend_limit_id": source.map(|l| l.id.clone()),
                "period": period.as_str(),
                "amount": source.and_then(|l| l.amount_cents).map(|c| c.to_string()),
                "currency": CURRENCY,
                "period_to_date_spend": cents(spent(&user.id, *period)),
            }));
        }
    }
    let next_page = match page.last() {
        Some((user, _)) if has_more => Some(URL_SAFE_NO_PAD.encode(user.subject.as_bytes())),
        _ => None,
    };
    Ok(Json(json!({
        "data": data,
        "has_more": has_more,
        "next_page": next_page,
    })))
}

/// A period of a member's report and the limit that decides it (`None`: none does).
type PeriodSource<'a> = (SpendPeriod, Option<&'a SpendLimit>);

/// The per-seat limit that decides `user`'s cap for `period`, by the budget check's own rule
/// (`conduit_spend::budget::per_seat`, over `budget`: the same limits, people by subject).
fn per_seat<'a>(
    limits: &'a [SpendLimit],
    budget: &[conduit_spend::Limit],
    user: &User,
    team: Option<&Team>,
    period: SpendPeriod,
) -> Option<&'a SpendLimit> {
    let caller = conduit_spend::Caller {
        user_id: Some(user.subject.clone()),
        team_id: team.map(|t| t.id.clone()),
        team_name: team.map(|t| t.name.clone()),
        key_id: String::new(),
    };
    let period = period.as_str().parse::<Period>().ok()?;
    let chosen = conduit_spend::budget::per_seat(budget, &caller, &user.subject, period)?;
    limits.iter().find(|l| l.id == chosen.id)
}

/// The running-total scope of a person's own spend.
fn user_scope(user_id: &str) -> String {
    conduit_spend::budget::user_key(user_id)
}

/// Where the current window of `period` starts (Unix seconds; 0 for total), in the budget zone.
fn window_start(period: SpendPeriod, now: i64, tz: &conduit_spend::jiff::tz::TimeZone) -> i64 {
    match period.as_str().parse::<Period>() {
        Ok(p) => p.window(now, tz).0,
        Err(_) => 0,
    }
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid("page: not a cursor this API gave out"))
}

/// Put a write in force on this instance now. The write has happened either way; should the
/// reload fail, the refresh tick catches up.
pub(super) async fn reload(team: &TeamState) {
    if let Err(e) = crate::team::spend::Spend::reload(&team.spend, &team.store).await {
        tracing::warn!(error = %e, "reloading spend limits and prices after a write failed");
    }
}
