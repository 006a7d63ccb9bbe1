//! GenerateAssistantResponse: checks in the real service's order, then a scripted event stream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream;
use serde_json::Value;

use crate::arn::{self, ApiRegion};
use crate::config::ProfileArnPolicy;
use crate::model::{Account, AccountKind, HttpError};
use crate::rules::{self, Action, Trailer};
use crate::state::Shared;
use crate::validate;
use crate::{errors, reasoning};

/// Response extension naming the rule that answered, for the request log.
#[derive(Debug, Clone)]
pub(crate) struct MatchedRule(pub String);

/// What the request checks decided.
enum Decision {
    Error(HttpError, Option<String>),
    /// The plan, the matched rule, and how long to hold back the whole answer.
    Stream(Vec<Action>, Option<String>, Duration),
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    headers: HeaderMap,
    region: ApiRegion,
    body: Bytes,
) -> Response {
    let decision = match checks(&shared, &headers, &region, &body) {
        Ok(d) => d,
        Err(e) => Decision::Error(e, None),
    };
    let (resp, rule) = match decision {
        Decision::Error(err, rule) => (err.into_response(), rule),
        Decision::Stream(actions, rule, hold) => {
            // `thinking: adaptive` takes the slow scheduling path: the first byte comes late.
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            (stream_response(actions), rule)
        }
    };
    with_rule(resp, rule)
}

fn with_rule(mut resp: Response, rule: Option<String>) -> Response {
    if let Some(id) = rule {
        resp.extensions_mut().insert(MatchedRule(id));
    }
    resp
}

/// Account-level refusals, in the order the service applies them.
fn account_checks(spec: &Account, headers: &HeaderMap) -> Result<(), HttpError> {
    if spec.suspended {
        return Err(errors::suspended());
    }
    if spec.kind == AccountKind::ExternalIdp && !arn::has_external_idp_header(headers) {
        return Err(errors::invalid_bearer());
    }
    if spec.risk_limited {
        return Err(errors::suspicious_activity());
    }
    if spec.quota_exhausted {
        return Err(errors::monthly_limit());
    }
    if spec.overage_exhausted {
        return Err(errors::overage_limit());
    }
    Ok(())
}

fn checks(
    shared: &Shared,
    headers: &HeaderMap,
    region: &ApiRegion,
    body: &Bytes,
) -> Result<Decision, HttpError> {
    let (account, spec, config) = shared.with(|s| -> Result<_, HttpError> {
        let account = s.bearer(headers)?;
        let spec = s
            .accounts
            .get(account)
            .map(|a| a.spec.clone())
            .ok_or_else(errors::invalid_bearer)?;
        Ok((account, spec, s.config.clone()))
    })?;
    account_checks(&spec, headers)?;
    if body.len() > config.max_payload_bytes {
        return Err(errors::improperly_formed());
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| errors::improperly_formed())?;
    match json.get("profileArn").and_then(Value::as_str) {
        Some(arn) => {
            let region = arn::effective_region(region, config.root_region.as_deref());
            arn::check_chat_arn(&spec, arn, region.as_deref())?;
        }
        None if config.profile_arn_policy == ProfileArnPolicy::Required
            && json.get("profileArn").is_none_or(Value::is_null) =>
        {
            return Err(errors::profile_arn_required());
        }
        None => {}
    }
    let view = validate::validate(&json, &config)?;
    shared.with(|s| reasoning::check_history(&json, &s.mac_key, &s.issued_redacted))?;
    let model = config
        .model(view.model.as_deref().unwrap_or("auto"))
        .cloned()
        .ok_or_else(errors::invalid_model)?;
    let fields = json
        .get("additionalModelRequestFields")
        .filter(|v| !v.is_null());
    if let Some(fields) = fields {
        if spec.kind == AccountKind::ExternalIdp {
            return Err(errors::additional_fields_unsupported());
        }
        model.check_fields(fields)?;
    }
    let input_tokens = rules::tokens_of(String::from_utf8_lossy(body).chars().count());
    if input_tokens > model.token_limits.max_input_tokens {
        return Err(errors::input_too_long());
    }
    let wants_effort = fields
        .and_then(|f| f.get("output_config"))
        .and_then(|o| o.get("effort"))
        .is_some_and(Value::is_string)
        && model.accepts_effort();
    let adaptive = fields
        .and_then(|f| f.get("thinking"))
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        == Some("adaptive");

    let token = bearer_token(headers);
    let (rule, key) = shared.with(|s| (s.take_rule(&view, &token), s.mac_key));
    let rule_id = rule.as_ref().and_then(|r| r.id.clone());
    if let Some(err) = rule.as_ref().and_then(|r| r.http_error.clone()) {
        return Ok(Decision::Error(err, rule_id));
    }
    let steps = rule
        .map(|r| r.reply)
        .unwrap_or_else(|| rules::default_reply(wants_effort));
    let trailer = Trailer {
        context_usage: context_percentage(body.len(), config.context_window_tokens),
        metering: None,
        input_tokens,
        rate_multiplier: model.rate_multiplier,
        token_usage: config.token_usage,
    };
    let planned = match rules::plan(&steps, trailer, &key) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return Ok(Decision::Error(errors::high_load(), rule_id));
        }
    };
    shared.with(|s| {
        s.issued_redacted.extend(planned.redacted.iter().cloned());
        if let Some(a) = s.accounts.get_mut(account) {
            a.chat_requests += 1;
            a.credits += planned.credits.unwrap_or(0.0);
        }
    });
    let hold = if adaptive {
        Duration::from_millis(config.adaptive_delay_ms)
    } else {
        Duration::ZERO
    };
    Ok(Decision::Stream(planned.actions, rule_id, hold))
}

fn bearer_token(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Request bytes / 4 as tokens, relative to the window, in percent (4 decimals).
fn context_percentage(body_len: usize, window: u64) -> f64 {
    let tokens = body_len as f64 / 4.0;
    let pct = tokens / window.max(1) as f64 * 100.0;
    (pct * 10_000.0).round() / 10_000.0
}

/// HTTP 200 event stream; each frame is its own body chunk, delays and cuts happen for real.
fn stream_response(actions: Vec<Action>) -> Response {
    let body = stream::unfold(actions.into_iter(), |mut it| async move {
        loop {
            match it.next()? {
                Action::Delay(d) => tokio::time::sleep(d).await,
                Action::Frame(bytes) => return Some((Ok::<Bytes, std::io::Error>(bytes), it)),
                Action::Cut => {
                    // Let hyper flush what was already written, then abort the body.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let err = std::io::Error::other("conduit-sim: stream cut by rule");
                    return Some((Err(err), Vec::new().into_iter()));
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    resp
}
