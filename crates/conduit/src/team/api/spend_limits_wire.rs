//! The spend-limits API's wire shapes (Anthropic's Admin API: `spend_limit` objects, amounts in
//! cents as decimal strings, list envelopes, errors with a `request_id`) and their parsing.
//! Bodies are read as JSON values so that every mistake gets its own 400 naming the field.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use conduit_store::{AuditEntry, NewSpendLimit, SpendLimit, SpendPeriod, SpendScope};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use crate::team::wire::rfc3339;

/// The one currency limits are kept in.
pub const CURRENCY: &str = "USD";

/// Nano-dollars in a cent.
const NANOS_PER_CENT: i64 = 10_000_000;

/// The longest amount accepted, in digits (a trillion dollars in cents has 14).
const MAX_AMOUNT_DIGITS: usize = 15;

/// `POST /v1/organizations/spend_limits` `{scope, period, amount, currency?, is_enabled?}`.
pub fn parse_upsert(body: &Value) -> Result<NewSpendLimit, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("the request body must be a JSON object"))?;
    let (scope_type, scope_id) = parse_scope(obj.get("scope"))?;
    let period = match obj.get("period") {
        Some(Value::String(p)) => parse_period(p)?,
        Some(_) => return Err(ApiError::invalid("period: must be a string")),
        None => {
            return Err(ApiError::invalid(
                "period: required (daily, weekly, monthly or total)",
            ))
        }
    };
    let amount_cents =
        match obj.get("amount") {
            None => {
                return Err(ApiError::invalid(
                    "amount: required (cents as a decimal string, e.g. \"50000\" for $500.00, or \
                 null for no cap)",
                ))
            }
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_cents(s)?),
            Some(_) => return Err(ApiError::invalid(
                "amount: must be a decimal string of cents (e.g. \"50000\" for $500.00) or null",
            )),
        };
    match obj.get("currency") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if c.eq_ignore_ascii_case(CURRENCY) => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "currency: only \"USD\" is supported (got {other})"
            )))
        }
    }
    let is_enabled = match obj.get("is_enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("is_enabled: must be true or false")),
    };
    Ok(NewSpendLimit {
        scope_type,
        scope_id,
        period,
        amount_cents,
        currency: CURRENCY.into(),
        is_enabled,
    })
}

/// A `scope` object: its type and the id the store keys it on (`""` for organization and
/// gateway).
fn parse_scope(scope: Option<&Value>) -> Result<(SpendScope, String), ApiError> {
    let obj = match scope {
        Some(Value::Object(o)) => o,
        None => {
            return Err(ApiError::invalid(
                "scope: required, e.g. {\"type\":\"user\",\"user_id\":\"alice\"}",
            ))
        }
        Some(_) => return Err(ApiError::invalid("scope: must be an object with a type")),
    };
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => return Err(ApiError::invalid("scope.type: required (a string)")),
    };
    let scope = SpendScope::parse(kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "scope.type: unknown scope type {kind:?}: expected user, rbac_group, organization, \
             team, key or gateway"
        ))
    })?;
    let id = match id_field(scope) {
        None => String::new(),
        Some(field) => match obj.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(ApiError::invalid(format!(
                    "scope.{field}: required for a {kind} scope (a non-empty string)"
                )))
            }
        },
    };
    Ok((scope, id))
}

/// The field of a scope object that names its subject (`None`: the scope has none).
fn id_field(scope: SpendScope) -> Option<&'static str> {
    match scope {
        SpendScope::User => Some("user_id"),
        SpendScope::RbacGroup => Some("rbac_group_id"),
        SpendScope::Team => Some("team_id"),
        SpendScope::Key => Some("key_id"),
        SpendScope::Organization | SpendScope::Gateway => None,
    }
}

pub fn parse_period(p: &str) -> Result<SpendPeriod, ApiError> {
    SpendPeriod::parse(p).ok_or_else(|| {
        ApiError::invalid(format!(
            "period: unknown period {p:?}: expected daily, weekly, monthly or total"
        ))
    })
}

/// `"50000"` → 50000: ASCII digits only (no sign, point or spaces), at most 15.
fn parse_cents(s: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "amount: {s:?} is not a whole number of cents as a decimal string (e.g. \"50000\" \
             for $500.00)"
        ))
    };
    if s.is_empty() || s.len() > MAX_AMOUNT_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse::<i64>().map_err(|_| bad())
}

/// A scope as the API shows it.
pub fn scope_json(scope: SpendScope, id: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("type".into(), Value::from(scope.as_str()));
    if let Some(field) = id_field(scope) {
        obj.insert(field.into(), Value::from(id));
    }
    Value::Object(obj)
}

/// A `spend_limit` object.
pub fn limit_json(l: &SpendLimit) -> Value {
    json!({
        "type": "spend_limit",
        "id": l.id,
        "scope": scope_json(l.scope_type, &l.scope_id),
        "period": l.period.as_str(),
        "amount": l.amount_cents.map(|c| c.to_string()),
        "currency": l.currency,
        "is_enabled": l.is_enabled,
        "created_at": rfc3339(l.created_at),
        "updated_at": rfc3339(l.updated_at),
    })
}

/// `{data, has_more, first_id, last_id}` over objects with an `id`.
pub fn list_envelope(data: Vec<Value>, has_more: bool) -> Value {
    let id = |v: Option<&Value>| v.map(|v| v["id"].clone()).unwrap_or(Value::Null);
    json!({
        "first_id": id(data.first()),
        "last_id": id(data.last()),
        "has_more": has_more,
        "data": data,
    })
}

/// One audit entry of a spend-limit write: who, when, and the object before and after.
pub fn audit_json(e: &AuditEntry) -> Value {
    let side = |key: &str| -> Value {
        serde_json::from_value::<SpendLimit>(e.detail[key].clone())
            .map(|l| limit_json(&l))
            .unwrap_or(Value::Null)
    };
    let action = e.action.strip_prefix("spend_limit.").unwrap_or(&e.action);
    json!({
        "type": "spend_limit_audit_entry",
        "id": e.id,
        "created_at": rfc3339(e.at_ms.div_euclid(1000)),
        "actor": e.actor,
        "action": action,
        "spend_limit_id": e.target,
        "before": side("before"),
        "after": side("after"),
    })
}

/// Nano-dollars as cents in a decimal string, exact: `54_399_000` → `"5.4399"`, `0` → `"0"`.
pub fn cents(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let per = NANOS_PER_CENT.unsigned_abs();
    let (whole, frac) = (abs / per, abs % per);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:07}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// The query string's pairs, percent-decoded; `name[]` read as `name`.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| {
            let k = k.strip_suffix("[]").unwrap_or(&k).to_owned();
            (k, v.into_owned())
        })
        .collect()
}

/// `limit=` as a page size from 1 to `max` (absent: `default`).
pub fn page_limit(pairs: &[(String, String)], default: i64, max: i64) -> Result<i64, ApiError> {
    match single(pairs, "limit")? {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "limit: must be a whole number from 1 to {max} (got {v:?})"
            ))),
        },
    }
}

/// The one value of a parameter (`None` when absent; a 400 when given twice).
pub fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid(format!("{name}: given more than once")));
    }
    Ok(first.map(String::as_str))
}

/// Every value of a repeated parameter (`name[]=a&name[]=b`, or `name=a,b`).
pub fn many(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Middleware: a `request-id` header on every answer, and the same id as `request_id` in every
/// error body (Anthropic's envelope), as the Admin API does.
pub async fn request_id(request: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&id) {
        parts.headers.insert("request-id", value);
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(parts.status.is_client_error() || parts.status.is_server_error()) || !is_json {
        return Response::from_parts(parts, body);
    }
    // Error bodies are small: read, add the id, write back.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut obj)) if obj.get("type") == Some(&Value::from("error")) => {
            obj.insert("request_id".into(), Value::from(id));
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(Value::Object(obj).to_string())
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cents_are_exact() {
        for (nanos, want) in [
            (0, "0"),
            (10_000_000, "1"),
            (54_399_000, "5.4399"),
            (1, "0.0000001"),
            (5_000_000_000_000, "500000"),
            (-25_000_000, "-2.5"),
        ] {
            assert_eq!(cents(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn bodies_parse_or_say_why() {
        let ok = parse_upsert(&json!({
            "scope": {"type": "rbac_group", "rbac_group_id": "platform"},
            "period": "weekly",
            "amount": "0",
            "currency": "usd",
        }))
        .unwrap();
        assert_eq!(
            (
                ok.scope_type,
                ok.scope_id.as_str(),
                ok.period,
                ok.amount_cents
            ),
            (
                SpendScope::RbacGroup,
                "platform",
                SpendPeriod::Weekly,
                Some(0)
            )
        );
        assert!(ok.is_enabled);
        let org = parse_upsert(&json!({
            "scope": {"type": "organization"}, "period": "monthly", "amount": null
        }))
        .unwrap();
        assert_eq!((org.scope_id.as_str(), org.amount_cents), ("", None));
        for (body, needle) in [
            (json!({"period": "daily", "amount": "1"}), "scope: required"),
            (
                json!({"scope": {"type": "seat_tier"}, "period": "daily", "amount": "1"}),
                "unknown scope type",
            ),
            (
                json!({"scope": {"type": "user"}, "period": "daily", "amount": "1"}),
                "scope.user_id",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "hourly", "amount": "1"}),
                "unknown period",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "daily", "amount": 100}),
                "decimal string",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "daily", "amount": "1.50"}),
                "whole number of cents",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "daily", "amount": "-1"}),
                "whole number of cents",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "daily"}),
                "amount: required",
            ),
            (
                json!({"scope": {"type": "organization"}, "period": "daily", "amount": "1",
                       "currency": "EUR"}),
                "only \"USD\"",
            ),
        ] {
            let err = parse_upsert(&body).unwrap_err();
            assert!(err.0.message.contains(needle), "{body}: {}", err.0.message);
        }
    }

    #[test]
    fn query_lists_and_limits() {
        let pairs = query_pairs(Some("user_ids%5B%5D=a&user_ids[]=b,c&period=daily&limit=5"));
        assert_eq!(many(&pairs, "user_ids"), ["a", "b", "c"]);
        assert_eq!(many(&pairs, "period"), ["daily"]);
        assert_eq!(page_limit(&pairs, 20, 1000).unwrap(), 5);
        assert!(page_limit(&query_pairs(Some("limit=0")), 20, 1000).is_err());
        assert!(single(&query_pairs(Some("page=a&page=b")), "page").is_err());
    }
}
