//! Bedrock model ids (foundation ids, geo inference profiles, application profiles) and the
//! InvokeModel body rules, in the service's order.

use std::collections::HashSet;

use serde_json::Value;

use super::error;
use crate::config::SimConfig;
use crate::model::HttpError;

const VERSION: &str = "bedrock-2023-05-31";
const ALLOWED_KEYS: [&str; 13] = [
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "messages",
    "system",
    "thinking",
    "tools",
    "tool_choice",
    "metadata",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
];
const GEOS: [&str; 6] = ["us", "eu", "apac", "jp", "au", "global"];

fn validation(message: impl Into<String>) -> HttpError {
    error(400, "ValidationException", message)
}

fn invalid_id() -> HttpError {
    validation("The provided model identifier is invalid.")
}

/// Whether a geo prefix may be invoked in `region`.
fn geo_fits(geo: &str, region: &str) -> bool {
    match geo {
        "global" => true,
        "us" => region.starts_with("us-"),
        "eu" => region.starts_with("eu-"),
        "apac" | "jp" | "au" => region.starts_with("ap-"),
        _ => false,
    }
}

/// Which operation resolves the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Invoke,
    CountTokens,
}

/// The foundation model id behind `id`, or the service's refusal.
pub(crate) fn resolve_model(
    config: &SimConfig,
    id: &str,
    region: Option<&str>,
    op: Op,
) -> Result<String, HttpError> {
    let known = |f: &str| config.bedrock_models.iter().any(|m| m == f);
    if known(id) {
        return match op {
            Op::CountTokens => Ok(id.to_owned()),
            Op::Invoke => Err(validation(format!(
                "Invocation of model ID {id} with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model."
            ))),
        };
    }
    let foundation = if let Some(f) = config.bedrock_application_profiles.get(id) {
        f.clone()
    } else {
        let (geo, rest) = id.split_once('.').ok_or_else(invalid_id)?;
        if !GEOS.contains(&geo) || !known(rest) || region.is_some_and(|r| !geo_fits(geo, r)) {
            return Err(invalid_id());
        }
        rest.to_owned()
    };
    match op {
        Op::Invoke => Ok(foundation),
        Op::CountTokens => Err(validation(
            "The provided model doesn't support counting tokens.",
        )),
    }
}

/// The extra key of a block's own `cache_control`, as `{path}.cache_control.{key}`.
fn extra_cc_key(block: &Value, path: &str) -> Option<String> {
    let cc = block.get("cache_control")?.as_object()?;
    let key = cc.keys().find(|k| *k != "type" && *k != "ttl")?;
    Some(format!("{path}.cache_control.{key}"))
}

fn indexed<'a>(v: Option<&'a Value>, path: &'a str) -> impl Iterator<Item = (String, &'a Value)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(move |(i, b)| (format!("{path}.{i}"), b))
}

/// The first `cache_control` with a key other than `type`/`ttl` on a tool, a system block, a
/// message block or a block nested in a `tool_result` (not inside schemas or inputs).
fn bad_cache_control(body: &Value) -> Option<String> {
    let mut found = indexed(body.get("tools"), "tools")
        .chain(indexed(body.get("system"), "system"))
        .find_map(|(p, b)| extra_cc_key(b, &p));
    for (mp, m) in indexed(body.get("messages"), "messages") {
        if found.is_some() {
            break;
        }
        let content = format!("{mp}.content");
        for (bp, b) in indexed(m.get("content"), &content) {
            let nested = format!("{bp}.content");
            found = extra_cc_key(b, &bp).or_else(|| {
                indexed(b.get("content"), &nested).find_map(|(p, n)| extra_cc_key(n, &p))
            });
            if found.is_some() {
                break;
            }
        }
    }
    found
}

/// The InvokeModel body rules (all 400 ValidationException). `count` = a CountTokens inner body
/// (no `max_tokens` needed).
pub(crate) fn check_body(
    bytes: &[u8],
    config: &SimConfig,
    key: &[u8; 32],
    issued_redacted: &HashSet<String>,
    count: bool,
) -> Result<Value, HttpError> {
    let body: Value = serde_json::from_slice(bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            validation("Malformed input request, please reformat your input and try again.")
        })?;
    if body.get("anthropic_version").and_then(Value::as_str) != Some(VERSION) {
        return Err(validation(format!(
            "anthropic_version: Input should be '{VERSION}'"
        )));
    }
    if let Some(extra) = body
        .as_object()
        .and_then(|m| m.keys().find(|k| !ALLOWED_KEYS.contains(&k.as_str())))
    {
        return Err(validation(format!(
            "{extra}: Extra inputs are not permitted"
        )));
    }
    if let Some(path) = bad_cache_control(&body) {
        return Err(validation(format!(
            "{path}: Extra inputs are not permitted"
        )));
    }
    if !count && body.get("max_tokens").is_none_or(Value::is_null) {
        return Err(validation("max_tokens: Field required"));
    }
    let betas = body.get("anthropic_beta").and_then(Value::as_array);
    if betas
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|b| config.bedrock_rejected_betas.iter().any(|r| r == b))
    {
        return Err(validation("invalid beta flag"));
    }
    crate::messages::cache::check_ttls(&body).map_err(validation)?;
    crate::messages::view::check_signatures(&body, key, issued_redacted).map_err(validation)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geo_prefixes_follow_the_region() {
        let c = SimConfig::default();
        let ok = |id: &str, r: Option<&str>| resolve_model(&c, id, r, Op::Invoke).is_ok();
        assert!(ok("us.anthropic.claude-opus-4-7", Some("us-west-2")));
        assert!(ok("global.anthropic.claude-opus-4-7", Some("eu-west-1")));
        assert!(ok(
            "apac.anthropic.claude-sonnet-4-6",
            Some("ap-northeast-1")
        ));
        assert!(!ok("eu.anthropic.claude-opus-4-7", Some("us-east-1")));
        assert!(ok("eu.anthropic.claude-opus-4-7", None));
        assert!(!ok("anthropic.claude-opus-4-7", None));
        assert!(!ok("us.anthropic.claude-nope", None));
    }

    #[test]
    fn cache_control_paths() {
        let cc = serde_json::json!({"type": "ephemeral", "scope": "global"});
        let schema = serde_json::json!({"type": "object", "properties": {
            "cache_control": {"type": "object", "description": "a field named like the marker"}}});
        let cases = [
            (
                serde_json::json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "x",
                "cache_control": cc}]}]}),
                Some("messages.0.content.0.cache_control.scope"),
            ),
            (
                serde_json::json!({"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r",
                 "cache_control": cc}]}]}]}),
                Some("messages.1.content.0.content.0.cache_control.scope"),
            ),
            (
                serde_json::json!({"tools": [{"name": "t", "input_schema": schema, "cache_control": cc}]}),
                Some("tools.0.cache_control.scope"),
            ),
            (
                serde_json::json!({"tools": [{"name": "t", "input_schema": schema}]}),
                None,
            ),
            (
                serde_json::json!({"system": [{"type": "text", "text": "s",
                "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}),
                None,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(bad_cache_control(&body).as_deref(), want, "{body}");
        }
    }
}
