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

/// The first `cache_control` (under `path`) with a key other than `type`/`ttl`.
fn bad_cache_control(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(cc)) = m.get("cache_control") {
                if let Some(k) = cc.keys().find(|k| *k != "type" && *k != "ttl") {
                    return Some(format!("{path}.cache_control.{k}"));
                }
            }
            m.iter()
                .filter(|(k, _)| k.as_str() != "cache_control")
                .find_map(|(k, v)| bad_cache_control(v, &format!("{path}.{k}")))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| bad_cache_control(v, &format!("{path}.{i}"))),
        _ => None,
    }
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
    for part in ["system", "messages", "tools"] {
        if let Some(path) = body.get(part).and_then(|v| bad_cache_control(v, part)) {
            return Err(validation(format!(
                "{path}: Extra inputs are not permitted"
            )));
        }
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
        let v: Value = serde_json::json!([{"role": "user", "content": [{"type": "text", "text": "x",
            "cache_control": {"type": "ephemeral", "scope": "global"}}]}]);
        assert_eq!(
            bad_cache_control(&v, "messages").as_deref(),
            Some("messages.0.content.0.cache_control.scope")
        );
    }
}
