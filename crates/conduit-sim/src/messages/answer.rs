//! One Messages call after its service-specific checks: pick the rule, account the prompt cache,
//! plan the reply; and the streamed body that plays a plan (delays and cuts for real).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::stream;
use serde_json::Value;

use super::cache::{self, InputUsage};
use super::reply::{self, Item, Reply, ReplyInput};
use super::view;
use crate::model::HttpError;
use crate::rules::Action;
use crate::state::Shared;

/// What a call needs to be answered.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub body: &'a Value,
    /// The model as rules match it (`match.model`).
    pub rule_model: &'a str,
    /// The caller's key (`match.access_token`).
    pub token: &'a str,
    /// The prompt cache is keyed by this (service and model).
    pub cache_key: String,
    /// `message.model` of the reply.
    pub reply_model: String,
    pub message_id: String,
    /// Bedrock flavour: invocation metrics on a streamed message_stop, `toolu_bdrk_` ids.
    pub bedrock: bool,
    pub streaming: bool,
}

/// How the call is answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A rule's `http_error` (with the rule id).
    Error(HttpError, Option<String>),
    Reply {
        reply: Reply,
        usage: InputUsage,
        rule: Option<String>,
    },
}

/// Rule, cache and plan for one call.
pub(crate) fn answer(shared: &Shared, call: &Call<'_>) -> Answer {
    let chat = view::chat_view(call.body, call.rule_model);
    let (rule, key) = shared.with(|s| (s.take_rule(&chat, call.token), s.mac_key));
    let rule_id = rule.as_ref().and_then(|r| r.id.clone());
    if let Some(err) = rule.as_ref().and_then(|r| r.http_error.clone()) {
        return Answer::Error(err, rule_id);
    }
    let steps = rule.map(|r| r.reply).unwrap_or_else(reply::default_steps);
    let measured = cache::measure(&call.cache_key, call.body);
    let usage = shared.with(|s| s.cache_usage(&measured));
    let input = ReplyInput {
        message_id: call.message_id.clone(),
        model: call.reply_model.clone(),
        usage,
        max_tokens: call.body.get("max_tokens").and_then(Value::as_u64),
        bedrock_metrics: call.bedrock && call.streaming,
        tool_prefix: if call.bedrock {
            "toolu_bdrk_"
        } else {
            "toolu_"
        },
    };
    let planned = reply::plan(&steps, &input, view::thinking_requested(call.body), &key);
    shared.with(|s| s.issued_redacted.extend(planned.redacted.iter().cloned()));
    Answer::Reply {
        reply: planned,
        usage,
        rule: rule_id,
    }
}

/// Keep the first `after` events, then end with an exception.
pub(crate) fn cut_after(
    items: Vec<Item>,
    after: usize,
    kind: String,
    message: String,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut events = 0;
    for item in items {
        if events >= after {
            break;
        }
        if matches!(item, Item::Event(_)) {
            events += 1;
        }
        out.push(item);
    }
    out.push(Item::Exception { kind, message });
    out
}

/// The usage a (possibly shortened) plan reports: none before message_start, the start usage
/// until message_delta, the final one after.
pub(crate) fn reported_usage(items: &[Item], u: InputUsage, output_tokens: u64) -> Option<Value> {
    let has = |t: &str| {
        items.iter().any(
            |i| matches!(i, Item::Event(e) if e.get("type").and_then(Value::as_str) == Some(t)),
        )
    };
    if !has("message_start") {
        return None;
    }
    let out = if has("message_delta") {
        output_tokens
    } else {
        1
    };
    Some(u.json(out))
}

/// A streamed body playing these actions; each frame is its own chunk.
pub(crate) fn stream_body(actions: Vec<Action>) -> Body {
    let body = stream::unfold(actions.into_iter(), |mut it| async move {
        loop {
            match it.next()? {
                Action::Delay(d) => tokio::time::sleep(d).await,
                Action::Frame(bytes) => return Some((Ok::<Bytes, std::io::Error>(bytes), it)),
                Action::Cut => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let err = std::io::Error::other("conduit-sim: stream cut");
                    return Some((Err(err), Vec::new().into_iter()));
                }
            }
        }
    });
    Body::from_stream(body)
}
