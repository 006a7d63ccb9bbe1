//! getUsageLimits (spec §5.4, REST GET form) for one account, and the summary `/v1/usage` shows
//! (each account's entry also carries `state`, `reason` and `credits_used`, see
//! [`super::AccountPool::usage`]).

use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use reqwest::header::{AUTHORIZATION, USER_AGENT};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::{format_time, Auth, Token};
use crate::config::KiroConfig;

/// How long one account's usage query may take.
pub const USAGE_TIMEOUT: Duration = Duration::from_secs(10);
const RESOURCE_TYPE: &str = "AGENTIC_REQUEST";

/// The parts of a getUsageLimits answer a person cares about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSummary {
    pub subscription_title: Option<String>,
    /// Of `AGENTIC_REQUEST` (or the first resource listed).
    pub current_usage: Option<f64>,
    pub usage_limit: Option<f64>,
    pub next_date_reset: Option<String>,
    pub days_until_reset: Option<u64>,
    pub resources: Vec<ResourceUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceUsage {
    pub resource_type: String,
    pub current_usage: Option<f64>,
    pub usage_limit: Option<f64>,
    pub next_date_reset: Option<String>,
}

impl UsageSummary {
    /// The reset time, for quota cooldowns.
    pub fn reset_time(&self) -> Option<OffsetDateTime> {
        self.next_date_reset
            .as_deref()
            .and_then(crate::auth::parse_time)
    }
}

/// Queries one account's usage, refreshing its token once if Kiro rejects it.
pub async fn fetch(
    http: &reqwest::Client,
    config: &KiroConfig,
    auth: &Auth,
) -> Result<UsageSummary, Error> {
    let token = auth.access_token().await?;
    match get(http, config, &token).await {
        // Only a rejected token is worth a refresh (a suspension is not).
        Err((true, _)) => {
            let token = auth.force_refresh(&token).await?;
            get(http, config, &token).await.map_err(|(_, e)| e)
        }
        other => other.map_err(|(_, e)| e),
    }
}

async fn get(
    http: &reqwest::Client,
    config: &KiroConfig,
    token: &Token,
) -> Result<UsageSummary, (bool, Error)> {
    // The ARN decides the region only: the REST GET answers 400 when it carries a real
    // (IdC / Enterprise) ARN (spec §9.2), and works for every kind without one.
    let base = config.api_url_for(token.profile_arn.as_deref());
    let query = [("origin", "AI_EDITOR"), ("resourceType", RESOURCE_TYPE)];
    let agent = format!(
        "aws-sdk-js/1.0.0 ua/2.1 api/codewhispererruntime#1.0.0 m/E KiroIDE-{}-{}",
        crate::client::KIRO_VERSION,
        config.machine_id
    );
    let response = token
        .kind_headers(http.get(format!("{base}/getUsageLimits")))
        .query(&query)
        .header(AUTHORIZATION, format!("Bearer {}", token.access_token))
        .header(USER_AGENT, agent)
        .header("amz-sdk-request", "attempt=1; max=1")
        .header("amz-sdk-invocation-id", uuid::Uuid::new_v4().to_string())
        .timeout(USAGE_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            (
                false,
                Error::new(
                    ErrorKind::Overloaded,
                    format!("could not reach Kiro for usage limits: {e}"),
                ),
            )
        })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        let class = crate::client::errors::parse(status, &text).class;
        return Err((
            class == crate::client::errors::Class::BearerInvalid,
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("Kiro refused the usage query (HTTP {status}: {message})"),
            ),
        ));
    }
    Ok(summarize(&body))
}

/// The summary of a getUsageLimits answer (tolerant: missing fields become `None`).
pub fn summarize(body: &Value) -> UsageSummary {
    let resources: Vec<ResourceUsage> = body
        .get("usageBreakdownList")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|r| ResourceUsage {
                    resource_type: r
                        .get("resourceType")
                        .and_then(Value::as_str)
                        .unwrap_or("UNKNOWN")
                        .to_string(),
                    current_usage: number(r, "currentUsageWithPrecision")
                        .or_else(|| number(r, "currentUsage")),
                    usage_limit: number(r, "usageLimitWithPrecision")
                        .or_else(|| number(r, "usageLimit")),
                    next_date_reset: reset(r.get("nextDateReset")),
                })
                .collect()
        })
        .unwrap_or_default();
    let main = resources
        .iter()
        .find(|r| r.resource_type == RESOURCE_TYPE)
        .or(resources.first());
    UsageSummary {
        subscription_title: body
            .pointer("/subscriptionInfo/subscriptionTitle")
            .and_then(Value::as_str)
            .map(str::to_string),
        current_usage: main.and_then(|r| r.current_usage),
        usage_limit: main.and_then(|r| r.usage_limit),
        next_date_reset: reset(body.get("nextDateReset"))
            .or_else(|| main.and_then(|r| r.next_date_reset.clone())),
        days_until_reset: body.get("daysUntilReset").and_then(Value::as_u64),
        resources,
    }
}

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// `nextDateReset` is epoch seconds (a float) in the service's answers; shown as RFC 3339.
fn reset(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            OffsetDateTime::from_unix_timestamp(secs as i64)
                .ok()
                .map(format_time)
        }
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
