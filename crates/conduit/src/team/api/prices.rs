//! `/admin/prices[/{upstream}/{model}]`: admin price overrides per upstream (`*` = any) and model
//! prefix, in US dollars per million tokens as decimal strings (`"3.75"`), kept as micro-dollars.
//! Five rates each, never derived from one another. Writes are audited by the store and priced
//! with on this instance before the answer (the others reload on their refresh tick).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_store::PriceOverride;
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::spend_limits::reload;
use crate::state::TeamState;
use crate::team::wire::rfc3339;

/// The rates of a body and an answer, in order.
const RATES: [&str; 5] = ["input", "output", "cache_read", "write_5m", "write_1h"];

/// Micro-dollars in a dollar.
const MICROS: i64 = 1_000_000;

/// The highest rate accepted: $1,000,000 per million tokens.
const MAX_USD: i64 = 1_000_000;

/// `GET /admin/prices`.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let prices: Vec<Value> = team
        .store
        .list_price_overrides()
        .await?
        .iter()
        .map(price_json)
        .collect();
    Ok(Json(json!({ "prices": prices })))
}

/// `GET /admin/prices/{upstream}/{model}`.
pub async fn get_one(
    team: TeamState,
    _: Reader,
    Path((upstream, model)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let found = team
        .store
        .list_price_overrides()
        .await?
        .into_iter()
        .find(|p| p.upstream == upstream && p.model == model)
        .ok_or_else(|| ApiError::not_found("price override"))?;
    Ok(Json(price_json(&found)))
}

/// `PUT /admin/prices/{upstream}/{model}` `{"input","output","cache_read","write_5m","write_1h"}`:
/// 201 when created, 200 when replaced; the override.
pub async fn put(
    team: TeamState,
    Admin(caller): Admin,
    Path((upstream, model)): Path<(String, String)>,
    AdminJson(body): AdminJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if upstream.trim().is_empty() || model.trim().is_empty() {
        return Err(ApiError::invalid(
            "upstream and model must not be empty (upstream * means any)",
        ));
    }
    let mut rates = [0i64; 5];
    for (slot, name) in rates.iter_mut().zip(RATES) {
        *slot = parse_rate(name, body.get(name))?;
    }
    let [input, output, cache_read, write_5m, write_1h] = rates;
    let price = PriceOverride {
        upstream,
        model,
        input,
        output,
        cache_read,
        write_5m,
        write_1h,
        updated_at: 0,
    };
    let (saved, created) = team
        .store
        .upsert_price_override(&price, &caller.actor())
        .await?;
    reload(&team).await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(price_json(&saved))))
}

/// `DELETE /admin/prices/{upstream}/{model}`: the list price applies again.
pub async fn delete(
    team: TeamState,
    Admin(caller): Admin,
    Path((upstream, model)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    team.store
        .delete_price_override(&upstream, &model, &caller.actor())
        .await?;
    reload(&team).await;
    Ok(Json(json!({ "deleted": true })))
}

fn price_json(p: &PriceOverride) -> Value {
    json!({
        "upstream": p.upstream,
        "model": p.model,
        "input": usd(p.input),
        "output": usd(p.output),
        "cache_read": usd(p.cache_read),
        "write_5m": usd(p.write_5m),
        "write_1h": usd(p.write_1h),
        "updated_at": rfc3339(p.updated_at),
    })
}

/// A rate in dollars per million tokens — a decimal string (`"3.75"`) or a JSON number — as
/// micro-dollars: at most six decimals, not negative.
fn parse_rate(name: &str, value: Option<&Value>) -> Result<i64, ApiError> {
    let text = match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(format!(
                "{name}: required (US dollars per million tokens as a decimal string, e.g. \
                 \"3.75\"); give all of input, output, cache_read, write_5m, write_1h"
            )))
        }
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "{name}: must be a decimal string such as \"3.75\""
            )))
        }
    };
    micros(&text).ok_or_else(|| {
        ApiError::invalid(format!(
            "{name}: {text:?} is not a price in dollars per million tokens (a non-negative \
             decimal with at most 6 decimals, below {MAX_USD})"
        ))
    })
}

/// `"3.75"` → 3_750_000.
fn micros(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 6 {
        return None;
    }
    if text.ends_with('.') || whole.len() > 7 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    if whole >= MAX_USD {
        return None;
    }
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(whole * MICROS + frac)
}

/// 3_750_000 → `"3.75"`; 3_000_000 → `"3"`.
fn usd(micros: i64) -> String {
    let (whole, frac) = (micros / MICROS, (micros % MICROS).abs());
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_trip_exactly() {
        for (text, want) in [
            ("3", 3_000_000),
            ("0.30", 300_000),
            ("3.75", 3_750_000),
            ("0.000001", 1),
            ("15", 15_000_000),
            ("0", 0),
        ] {
            assert_eq!(micros(text), Some(want), "{text}");
        }
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1.0000001",
            "1e3",
            "abc",
            "1,5",
            "1000000",
        ] {
            assert_eq!(micros(bad), None, "{bad:?}");
        }
        for (m, text) in [
            (3_750_000, "3.75"),
            (300_000, "0.3"),
            (6_000_000, "6"),
            (1, "0.000001"),
        ] {
            assert_eq!(usd(m), text);
        }
    }
}
