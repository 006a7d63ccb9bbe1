//! `GET /me/spend`: what the caller (any gateway credential: a key, a session, a sign-in token)
//! has spent in each period, and every cap that applies to them with what is left of it.

use axum::Json;
use conduit_spend::Period;
use serde_json::{json, Value};

use super::caller::Identity;
use super::error::ApiResult;
use crate::state::TeamState;

/// `GET /me/spend`.
pub async fn spend(team: TeamState, identity: Identity) -> ApiResult<Json<Value>> {
    let p = &identity.principal;
    let spend = &team.spend;
    let now = spend.now();
    let own = match &p.user_id {
        Some(u) => conduit_spend::budget::user_key(u),
        None => conduit_spend::budget::key_key(&p.credential_id),
    };
    let periods: Vec<Value> = Period::ALL
        .iter()
        .map(|period| {
            let (start, end) = period.window(now, &spend.tz);
            json!({
                "period": period.as_str(),
                "period_start": start,
                "resets_at": end,
                "spent_usd": conduit_spend::usd(spend.totals.get(&own, period.as_str(), start)),
            })
        })
        .collect();
    let verdict = spend.verdict(p);
    let caps: Vec<Value> = verdict
        .caps
        .iter()
        .map(|h| {
            json!({
                "spend_limit_id": h.limit_id,
                "counts": h.scope_key,
                "period": h.period.as_str(),
                "limit_usd": conduit_spend::usd(h.cap_nanos),
                "spent_usd": conduit_spend::usd(h.spent_nanos),
                "remaining_usd": conduit_spend::usd(h.remaining_nanos.max(0)),
                "utilization": h.utilization,
                "resets_at": h.reset_s,
            })
        })
        .collect();
    Ok(Json(json!({
        "type": "spend_summary",
        "user": p.subject,
        "team_id": p.team_id,
        "key_id": p.credential_id,
        "currency": "USD",
        "periods": periods,
        "limits": caps,
        "blocked": verdict.blocked.is_some(),
        "block_message": verdict.blocked.as_ref().map(|b| b.message.clone()),
    })))
}
