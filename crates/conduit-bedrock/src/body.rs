//! An Anthropic Messages body → the InvokeModel body Bedrock accepts: `anthropic_version`
//! `bedrock-2023-05-31`, no `model` (it is in the path) and no `stream` (the endpoint decides),
//! betas moved into the body's `anthropic_beta`, only the top-level fields Bedrock knows,
//! `cache_control` reduced to `type` and `ttl` everywhere, and `max_tokens` filled when absent.

use serde_json::{Map, Value};

use crate::models::CONTEXT_1M_BETA;

pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// The top-level fields Bedrock's Anthropic schema has; anything else is refused with "Extra
/// inputs are not permitted" (`context_management`, `output_config`, `mcp_servers`, …).
pub const ALLOWED_FIELDS: [&str; 13] = [
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

/// The betas a client asked for, in order and without repeats: the `anthropic-beta` header
/// values, the body's `betas` and `anthropic_beta`, and `context-1m` for a `[1m]` model name.
pub fn requested_betas<'a>(
    header_values: impl Iterator<Item = &'a str>,
    body: &Map<String, Value>,
    one_m: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |b: &str| {
        let b = b.trim();
        if !b.is_empty() && !out.iter().any(|o| o == b) {
            out.push(b.to_owned());
        }
    };
    header_values.for_each(&mut push);
    for key in ["betas", "anthropic_beta"] {
        match body.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut push),
            Some(Value::String(s)) => s.split(',').for_each(&mut push),
            _ => {}
        }
    }
    if one_m {
        push(CONTEXT_1M_BETA);
    }
    out
}

/// The InvokeModel body for `client` (an Anthropic Messages body) with `betas` (already
/// filtered by what Bedrock is known to refuse). `default_max_tokens` fills a missing
/// `max_tokens`.
pub fn bedrock_body(
    client: &Map<String, Value>,
    betas: &[String],
    default_max_tokens: u32,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    if !betas.is_empty() {
        body.insert("anthropic_beta".into(), Value::from(betas.to_vec()));
    }
    for (key, value) in client {
        if matches!(key.as_str(), "anthropic_version" | "anthropic_beta")
            || !ALLOWED_FIELDS.contains(&key.as_str())
        {
            continue;
        }
        let mut value = value.clone();
        if matches!(key.as_str(), "system" | "messages" | "tools") {
            sanitize_cache_control(&mut value);
        }
        body.insert(key.clone(), value);
    }
    if !body.get("max_tokens").is_some_and(Value::is_u64) {
        body.insert("max_tokens".into(), default_max_tokens.into());
    }
    body
}

/// Every `cache_control` object under `value` keeps only `type` and `ttl` (Bedrock refuses
/// `scope` and anything newer).
pub fn sanitize_cache_control(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(cc)) = map.get_mut("cache_control") {
                cc.retain(|k, _| k == "type" || k == "ttl");
            }
            for (k, v) in map.iter_mut() {
                if k != "cache_control" {
                    sanitize_cache_control(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sanitize_cache_control),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn client_bodies_to_bedrock_bodies() {
        // (client body, betas, bedrock body)
        let cases = [
            (
                json!({"model": "claude-opus-4-7", "stream": true, "max_tokens": 5,
                       "messages": [{"role": "user", "content": "hi"}]}),
                vec![],
                json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
                       "messages": [{"role": "user", "content": "hi"}]}),
            ),
            (
                json!({"model": "m", "anthropic_version": "2023-06-01", "betas": ["x"],
                       "context_management": {}, "output_config": {"effort": "high"},
                       "mcp_servers": [], "service_tier": "auto", "top_k": 3,
                       "thinking": {"type": "adaptive"}, "metadata": {"user_id": "u"},
                       "system": [{"type": "text", "text": "s",
                                   "cache_control": {"type": "ephemeral", "ttl": "1h", "scope": "global"}}],
                       "tools": [{"name": "t", "input_schema": {}, "cache_control": {"type": "ephemeral", "x": 1}}],
                       "messages": [{"role": "user", "content": [
                           {"type": "tool_result", "tool_use_id": "a", "content": [
                               {"type": "text", "text": "r", "cache_control": {"type": "ephemeral", "scope": "s"}}]}]}]}),
                vec!["claude-code-20250219".to_owned()],
                json!({"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["claude-code-20250219"],
                       "max_tokens": 7, "top_k": 3, "thinking": {"type": "adaptive"},
                       "metadata": {"user_id": "u"},
                       "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
                       "tools": [{"name": "t", "input_schema": {}, "cache_control": {"type": "ephemeral"}}],
                       "messages": [{"role": "user", "content": [
                           {"type": "tool_result", "tool_use_id": "a", "content": [
                               {"type": "text", "text": "r", "cache_control": {"type": "ephemeral"}}]}]}]}),
            ),
        ];
        for (client, betas, want) in cases {
            let got = bedrock_body(&obj(client.clone()), &betas, 7);
            assert_eq!(Value::Object(got), want, "{client}");
        }
    }

    #[test]
    fn betas_from_header_body_and_suffix() {
        let body = obj(json!({"betas": ["b", "a"], "anthropic_beta": "c, a"}));
        let got = requested_betas(["a", "x"].into_iter(), &body, true);
        assert_eq!(got, ["a", "x", "b", "c", CONTEXT_1M_BETA]);
        assert!(requested_betas(std::iter::empty(), &Map::new(), false).is_empty());
    }
}
