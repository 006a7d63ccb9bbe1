//! Native reasoning on the request side (spec §9.4): the effort a client asked for, whether a
//! model's `additionalModelRequestFieldsSchema` admits it, and the placeholder signature that
//! prompt-tag thinking gets on its way to the client.
//!
//! Only `{"output_config":{"effort":…}}` is ever sent. `thinking` (even `adaptive`) never is: it
//! puts the request on a slower path and suppresses reasoning on tool-continuation turns.

use base64::Engine as _;
use conduit_core::{Effort, Request, Thinking};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Every signature the gateway makes up starts with this; such signatures are never forwarded
/// upstream (history replay drops them like any unsigned reasoning).
pub const PLACEHOLDER_SIGNATURE_PREFIX: &str = "conduit.unsigned.";

/// The effort to ask the upstream for, or `None` when the client asked for none: its explicit
/// effort; else, with thinking on, Anthropic's default (`high`) for adaptive thinking and a level
/// from the budget for budgeted thinking.
pub fn requested_effort(req: &Request) -> Option<Effort> {
    match (req.effort, req.thinking) {
        (Some(effort), _) => Some(effort),
        (None, Thinking::Disabled) => None,
        (None, Thinking::Adaptive) => Some(Effort::High),
        (None, Thinking::Enabled { budget_tokens }) => Some(match budget_tokens {
            0..4_096 => Effort::Low,
            4_096..16_384 => Effort::Medium,
            _ => Effort::High,
        }),
    }
}

/// `additionalModelRequestFields` for `req` on a model with `schema` (`None`: the model takes
/// none): `{"output_config":{"effort":…}}` when the client asked for an effort and the schema
/// admits `output_config.effort`, else `None`. A level the schema does not list becomes the
/// nearest listed one below it (`xhigh` → `high` on a model that stops at `high`).
pub fn additional_fields(schema: Option<&Value>, req: &Request) -> Option<Value> {
    let wanted = requested_effort(req)?;
    let effort = admitted_effort(schema?, wanted)?;
    Some(json!({ "output_config": { "effort": effort.as_str() } }))
}

/// Whether the model reasons natively at all (its schema admits `output_config.effort`); only
/// then is earlier signed reasoning replayed to it.
pub fn supports_native(schema: Option<&Value>) -> bool {
    schema
        .and_then(effort_levels)
        .is_some_and(|l| !l.is_empty())
}

/// The level of `wanted` the schema admits, if it admits `output_config.effort` at all.
pub fn admitted_effort(schema: &Value, wanted: Effort) -> Option<Effort> {
    let levels = effort_levels(schema)?;
    levels
        .iter()
        .copied()
        .filter(|l| *l <= wanted)
        .max()
        .or_else(|| levels.iter().copied().min())
}

/// The effort levels `schema` admits for `output_config.effort`, or `None` when it does not
/// admit that member: not listed under `properties` (an unlisted key is refused even without
/// `additionalProperties: false`), a wrong `type`, or another member `required` (we never send
/// anything else, least of all `thinking`).
fn effort_levels(schema: &Value) -> Option<Vec<Effort>> {
    let output_config = member(schema, "output_config")?;
    let effort = member(output_config, "effort")?;
    if effort.get("type").is_some_and(|t| t != "string") {
        return None;
    }
    Some(match effort.get("enum").and_then(Value::as_array) {
        Some(values) => Effort::ALL
            .into_iter()
            .filter(|e| values.iter().any(|v| v.as_str() == Some(e.as_str())))
            .collect(),
        None => Effort::ALL.to_vec(),
    })
}

/// The schema of object member `name` in object schema `schema`, if sending only that member is
/// valid.
fn member<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    if schema.get("type").is_some_and(|t| t != "object") {
        return None;
    }
    let required_ok = schema
        .get("required")
        .and_then(Value::as_array)
        .is_none_or(|r| r.iter().all(|k| k.as_str() == Some(name)));
    if !required_ok {
        return None;
    }
    schema
        .get("properties")?
        .get(name)
        .filter(|s| s.is_object())
}

/// The schema to use when the live catalogue (ListAvailableModels) cannot be had: what the
/// catalogue published for the models known to reason natively in late 2026 (spec §9.4, §9.7).
/// Any other id gets `None` (no field sent; prompt-tag thinking instead), which can cost
/// reasoning but never a 400.
pub fn fallback_schema(kiro_model_id: &str) -> Option<Value> {
    let effort = |levels: &[&str]| {
        json!({
            "type": "object",
            "properties": {
                "output_config": {
                    "type": "object",
                    "properties": { "effort": { "type": "string", "enum": levels } }
                }
            }
        })
    };
    let three = ["low", "medium", "high"];
    let five = ["low", "medium", "high", "xhigh", "max"];
    Some(match kiro_model_id {
        "claude-sonnet-4.6" | "claude-opus-4.6" => effort(&three),
        "claude-opus-4.7" | "claude-opus-4.8" => effort(&five),
        "claude-sonnet-5" => json!({ "type": "object", "properties": {} }),
        "claude-opus-5" => json!({
            "type": "object",
            "properties": {
                "thinking": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string", "enum": ["adaptive", "disabled"] },
                        "display": { "type": "string", "enum": ["summarized", "omitted"] }
                    },
                    "required": ["type"]
                },
                "output_config": {
                    "type": "object",
                    "properties": {
                        "effort": { "type": "string", "enum": five, "default": "high" }
                    }
                },
                "max_tokens": { "type": "integer", "minimum": 1024, "maximum": 128000 }
            },
            "additionalProperties": false
        }),
        _ => return None,
    })
}

/// Builds the stable placeholder signature of a reasoning text the upstream did not sign
/// (prompt-tag thinking, unsigned native reasoning). Claude Code refuses unsigned thinking on
/// replay; this satisfies it and is recognisable, so it never goes upstream.
#[derive(Debug, Clone, Default)]
pub struct PlaceholderSigner(Sha256);

impl PlaceholderSigner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, text: &str) {
        self.0.update(text.as_bytes());
    }

    pub fn finish(self) -> String {
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.finalize());
        format!("{PLACEHOLDER_SIGNATURE_PREFIX}{digest}")
    }
}

/// The placeholder signature of `text` (see [`PlaceholderSigner`]).
pub fn placeholder_signature(text: &str) -> String {
    let mut signer = PlaceholderSigner::new();
    signer.update(text);
    signer.finish()
}

pub fn is_placeholder_signature(signature: &str) -> bool {
    signature.starts_with(PLACEHOLDER_SIGNATURE_PREFIX)
}

#[cfg(test)]
mod tests;
