//! GenerateAssistantResponse: checks in the real service's order, then a scripted event stream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream;
use serde_json::Value;

use crate::config::ProfileArnPolicy;
use crate::errors;
use crate::model::HttpError;
use crate::rules::{self, Action, Trailer};
use crate::state::Shared;
use crate::validate::{self, ChatView};

/// Response extension naming the rule that answered, for the request log.
#[derive(Debug, Clone)]
pub(crate) struct MatchedRule(pub String);

/// What the request checks decided.
enum Decision {
    Error(HttpError, Option<String>),
    Stream(Vec<Action>, Option<String>),
}

pub(crate) async fn handle(shared: Arc<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let decision = decide(&shared, &headers, &body);
    let (resp, rule) = match decision {
        Decision::Error(err, rule) => (err.into_response(), rule),
        Decision::Stream(actions, rule) => (stream_response(actions), rule),
    };
    with_rule(resp, rule)
}

fn with_rule(mut resp: Response, rule: Option<String>) -> Response {
    if let Some(id) = rule {
        resp.extensions_mut().insert(MatchedRule(id));
    }
    resp
}

fn decide(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Decision {
    match checks(shared, headers, body) {
        Ok(d) => d,
        Err(e) => Decision::Error(e, None),
    }
}

fn checks(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Result<Decision, HttpError> {
    let (account, config) = shared.with(|s| -> Result<_, HttpError> {
        let account = s.bearer(headers)?;
        Ok((account, s.config.clone()))
    })?;
    let exhausted = shared.with(|s| {
        s.accounts
            .get(account)
            .is_some_and(|a| a.spec.quota_exhausted)
    });
    if exhausted {
        return Err(errors::monthly_limit());
    }
    if body.len() > config.max_payload_bytes {
        return Err(errors::improperly_formed());
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| errors::improperly_formed())?;
    if config.profile_arn_policy == ProfileArnPolicy::Required
        && json.get("profileArn").is_none_or(Value::is_null)
    {
        return Err(errors::profile_arn_required());
    }
    let view = validate::validate(&json, &config)?;
    let token = bearer_token(headers);
    let rule = shared.with(|s| s.take_rule(&view, &token));
    let rule_id = rule.as_ref().and_then(|r| r.id.clone());
    if let Some(err) = rule.as_ref().and_then(|r| r.http_error.clone()) {
        return Ok(Decision::Error(err, rule_id));
    }
    let steps = rule.map(|r| r.reply).unwrap_or_else(rules::default_reply);
    let trailer = Trailer {
        context_usage: context_percentage(body.len(), config.context_window_tokens),
        metering: metering_for(&view),
    };
    let actions = match rules::plan(&steps, trailer) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{e}");
            return Ok(Decision::Error(errors::high_load(), rule_id));
        }
    };
    shared.with(|s| {
        if let Some(a) = s.accounts.get_mut(account) {
            a.chat_requests += 1;
        }
    });
    Ok(Decision::Stream(actions, rule_id))
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

/// A plausible credit charge: small, growing with the prompt.
fn metering_for(view: &ChatView) -> f64 {
    let base = 0.01 + view.content.len() as f64 / 100_000.0;
    (base * 10_000.0).round() / 10_000.0
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
