//! Management operations on the chat hosts: ListAvailableProfiles, ListAvailableModels,
//! GetUsageLimits (spec §2.5, §5.3, §5.4).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::arn::{self, ApiRegion};
use crate::errors;
use crate::model::{AccountKind, HttpError};
use crate::state::{Shared, State as SimState};

fn respond(result: Result<Value, HttpError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Which management call is asking (the suspension spares getUsageLimits, spec §9.6 sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Profiles,
    Models,
    Usage,
}

/// The bearer's account, with the account-level refusals of a management call.
fn account_for(s: &SimState, headers: &HeaderMap, call: Call) -> Result<usize, HttpError> {
    let id = s.bearer(headers)?;
    let Some(a) = s.accounts.get(id) else {
        return Err(errors::invalid_bearer());
    };
    if a.spec.suspended && call != Call::Usage {
        return Err(errors::suspended());
    }
    if a.spec.kind == AccountKind::ExternalIdp
        && call != Call::Profiles
        && !arn::has_external_idp_header(headers)
    {
        return Err(errors::invalid_bearer());
    }
    Ok(id)
}

/// `{"profiles":[{"arn","profileName","status"}]}` for the bearer's account, in the asked region.
pub(crate) fn list_profiles(shared: &Shared, headers: &HeaderMap, region: &ApiRegion) -> Response {
    respond(shared.with(|s| {
        let id = account_for(s, headers, Call::Profiles)?;
        let region = arn::effective_region(region, s.config.root_region.as_deref());
        if let Some(r) = &region {
            if !arn::PROFILE_REGIONS.contains(&r.as_str()) {
                return Err(errors::not_authorized());
            }
        }
        let Some(account) = s.accounts.get(id) else {
            return Err(errors::invalid_bearer());
        };
        if account.spec.kind == AccountKind::ExternalIdp && !arn::has_external_idp_header(headers) {
            return Ok(json!({ "profiles": [] }));
        }
        let profiles: Vec<Value> = arn::listed_profiles(&account.spec, region.as_deref())
            .iter()
            .map(|p| json!({"arn": p.arn, "profileName": p.profile_name, "status": "ACTIVE"}))
            .collect();
        Ok(json!({ "profiles": profiles }))
    }))
}

/// `{"models":[...],"defaultModel":{...}}`.
pub(crate) fn list_models(shared: &Shared, headers: &HeaderMap) -> Response {
    respond(shared.with(|s| {
        account_for(s, headers, Call::Models)?;
        let models: Vec<Value> = s.config.models.iter().map(|m| m.to_wire()).collect();
        let default = s
            .config
            .models
            .iter()
            .find(|m| m.model_id == "auto")
            .or(s.config.models.first())
            .map(|m| m.to_wire())
            .unwrap_or(Value::Null);
        Ok(json!({ "defaultModel": default, "models": models }))
    }))
}

/// The usage-limits document of the bearer's account.
pub(crate) fn usage_limits(shared: &Shared, headers: &HeaderMap, resource_type: &str) -> Response {
    respond(shared.with(|s| {
        let id = account_for(s, headers, Call::Usage)?;
        let Some(account) = s.accounts.get(id) else {
            return Ok(Value::Null);
        };
        let limit = account.spec.usage_limit.unwrap_or(50);
        let used = if account.spec.quota_exhausted {
            limit
        } else {
            account.chat_requests.min(limit)
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let days = 14u64;
        let reset = (now + days * 86_400) as f64;
        let title = account
            .spec
            .subscription_title
            .clone()
            .unwrap_or_else(|| "KIRO FREE".to_owned());
        Ok(json!({
            "daysUntilReset": days,
            "limits": [],
            "nextDateReset": reset,
            "overageConfiguration": {"overageStatus": "DISABLED"},
            "subscriptionInfo": {"subscriptionTitle": title, "type": "Q_DEVELOPER_STANDALONE_FREE"},
            "usageBreakdownList": [{
                "bonuses": [],
                "currency": "USD",
                "currentUsage": used,
                "currentUsageWithPrecision": used as f64,
                "displayName": "Credits",
                "nextDateReset": reset,
                "overageCap": 0,
                "overageRate": 0.04,
                "resourceType": resource_type,
                "unit": "credit",
                "usageLimit": limit,
                "usageLimitWithPrecision": limit as f64
            }],
            "userInfo": {"userId": format!("sim-user-{id}")}
        }))
    }))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct UsageQuery {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
}

/// `GET /ListAvailableModels?origin=AI_EDITOR` (a real `profileArn` query → 400, spec §9.2).
pub(crate) async fn get_models(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = arn::check_rest_query_arn(uri.query()) {
        return e.into_response();
    }
    list_models(&shared, &headers)
}

/// `GET /getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST`.
pub(crate) async fn get_usage(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<UsageQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = arn::check_rest_query_arn(uri.query()) {
        return e.into_response();
    }
    let rt = q
        .resource_type
        .unwrap_or_else(|| "AGENTIC_REQUEST".to_owned());
    usage_limits(&shared, &headers, &rt)
}
