//! Management operations on the chat hosts: ListAvailableProfiles, ListAvailableModels,
//! GetUsageLimits (spec §2.5, §5.3, §5.4).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::config::ModelInfo;
use crate::model::HttpError;
use crate::state::Shared;

fn model_json(m: &ModelInfo) -> Value {
    json!({
        "description": format!("{} (simulated)", m.model_id),
        "modelId": m.model_id,
        "modelName": m.model_id,
        "rateMultiplier": 1.0,
        "rateUnit": "credit",
        "supportedInputTypes": ["TEXT", "IMAGE"],
        "supportsPromptCache": true,
        "tokenLimits": {"maxInputTokens": m.max_input_tokens, "maxOutputTokens": m.max_output_tokens}
    })
}

fn respond(result: Result<Value, HttpError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `{"profiles":[{"arn","profileName"}]}` for the bearer's account.
pub(crate) fn list_profiles(shared: &Shared, headers: &HeaderMap) -> Response {
    respond(shared.with(|s| {
        let id = s.bearer(headers)?;
        let profiles: Vec<Value> = s
            .accounts
            .get(id)
            .map(|a| a.spec.all_profiles())
            .unwrap_or_default()
            .iter()
            .map(|p| json!({"arn": p.arn, "profileName": p.profile_name, "status": "ACTIVE"}))
            .collect();
        Ok(json!({ "profiles": profiles }))
    }))
}

/// `{"models":[...],"defaultModel":{...}}`.
pub(crate) fn list_models(shared: &Shared, headers: &HeaderMap) -> Response {
    respond(shared.with(|s| {
        s.bearer(headers)?;
        let models: Vec<Value> = s.config.models.iter().map(model_json).collect();
        let default = s
            .config
            .models
            .iter()
            .find(|m| m.model_id == "auto")
            .or(s.config.models.first())
            .map(model_json)
            .unwrap_or(Value::Null);
        Ok(json!({ "defaultModel": default, "models": models }))
    }))
}

/// The usage-limits document of the bearer's account.
pub(crate) fn usage_limits(shared: &Shared, headers: &HeaderMap, resource_type: &str) -> Response {
    respond(shared.with(|s| {
        let id = s.bearer(headers)?;
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

/// `GET /ListAvailableModels?origin=AI_EDITOR`.
pub(crate) async fn get_models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    list_models(&shared, &headers)
}

/// `GET /getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST`.
pub(crate) async fn get_usage(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<UsageQuery>,
    headers: HeaderMap,
) -> Response {
    let rt = q
        .resource_type
        .unwrap_or_else(|| "AGENTIC_REQUEST".to_owned());
    usage_limits(&shared, &headers, &rt)
}
