//! The model catalogue (spec §9.7): what ListAvailableModels serves and what chat accepts, with
//! each model's token limits, credit rate and `additionalModelRequestFieldsSchema` (spec §9.4).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors;
use crate::model::HttpError;
use crate::schema;

/// `tokenLimits` of a catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenLimits {
    pub max_input_tokens: u64,
    pub max_output_tokens: u64,
}

/// One ListAvailableModels entry, in its wire form (`POST /_sim/models` takes the same JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub model_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub token_limits: TokenLimits,
    #[serde(default = "one")]
    pub rate_multiplier: f64,
    #[serde(default = "credit")]
    pub rate_unit: String,
    #[serde(default = "text_and_image")]
    pub supported_input_types: Vec<String>,
    /// `promptCaching`; a default object is served when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_caching: Option<Value>,
    /// The JSON schema `additionalModelRequestFields` must satisfy; absent = the field is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields_schema: Option<Value>,
}

fn one() -> f64 {
    1.0
}

fn credit() -> String {
    "Credit".to_owned()
}

fn text_and_image() -> Vec<String> {
    vec!["TEXT".to_owned(), "IMAGE".to_owned()]
}

impl ModelInfo {
    /// A model with these limits and rate, text and image input, no request-fields schema.
    pub fn new(id: &str, max_input: u64, max_output: u64, rate: f64) -> Self {
        ModelInfo {
            model_id: id.to_owned(),
            model_name: None,
            description: None,
            token_limits: TokenLimits {
                max_input_tokens: max_input,
                max_output_tokens: max_output,
            },
            rate_multiplier: rate,
            rate_unit: credit(),
            supported_input_types: text_and_image(),
            prompt_caching: None,
            additional_model_request_fields_schema: None,
        }
    }

    pub fn with_schema(mut self, schema: Value) -> Self {
        self.additional_model_request_fields_schema = Some(schema);
        self
    }

    /// The entry as ListAvailableModels serves it.
    pub fn to_wire(&self) -> Value {
        let mut v = json!({
            "description": self.description.clone()
                .unwrap_or_else(|| format!("{} (simulated)", self.model_id)),
            "modelId": self.model_id,
            "modelName": self.model_name.clone().unwrap_or_else(|| self.model_id.clone()),
            "promptCaching": self.prompt_caching.clone().unwrap_or_else(|| json!({
                "maximumCacheCheckpointsPerRequest": 4,
                "minimumTokensPerCacheCheckpoint": 1024,
                "supportsPromptCaching": true
            })),
            "rateMultiplier": self.rate_multiplier,
            "rateUnit": self.rate_unit,
            "supportedInputTypes": self.supported_input_types,
            "tokenLimits": self.token_limits,
        });
        if let (Some(schema), Value::Object(m)) =
            (&self.additional_model_request_fields_schema, &mut v)
        {
            m.insert(
                "additionalModelRequestFieldsSchema".to_owned(),
                schema.clone(),
            );
        }
        v
    }

    /// Whether a request may ask this model for `output_config.effort` (its schema admits it).
    pub fn accepts_effort(&self) -> bool {
        self.additional_model_request_fields_schema
            .as_ref()
            .is_some_and(|s| {
                schema::check(&json!({"output_config": {"effort": "high"}}), s).is_ok()
            })
    }

    /// Check a request's `additionalModelRequestFields` against the schema (spec §9.4).
    pub fn check_fields(&self, fields: &Value) -> Result<(), HttpError> {
        let Some(schema) = &self.additional_model_request_fields_schema else {
            return Err(errors::additional_fields_unsupported());
        };
        schema::check(fields, schema).map_err(|e| {
            tracing::debug!("additionalModelRequestFields for {}: {e}", self.model_id);
            errors::additional_fields_invalid()
        })
    }
}

fn effort_schema(levels: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "output_config": {
                "type": "object",
                "properties": {"effort": {"type": "string", "enum": levels, "default": "high"}},
                "additionalProperties": false
            }
        },
        "additionalProperties": false
    })
}

/// The `claude-opus-5` schema of spec §9.4.
pub fn opus5_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "thinking": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": ["adaptive", "disabled"]},
                    "display": {"type": "string", "enum": ["summarized", "omitted"]}
                },
                "required": ["type"],
                "additionalProperties": false
            },
            "output_config": {
                "type": "object",
                "properties": {
                    "effort": {"type": "string", "enum": ["low", "medium", "high", "xhigh", "max"],
                               "default": "high"}
                },
                "additionalProperties": false
            },
            "max_tokens": {"type": "integer", "minimum": 1024, "maximum": 128_000}
        },
        "additionalProperties": false
    })
}

/// The default catalogue (spec §9.4, §9.7; the contract of issue 9).
pub fn default_models() -> Vec<ModelInfo> {
    const M: u64 = 1_000_000;
    const K200: u64 = 200_000;
    const K64: u64 = 64_000;
    let four_six = ["low", "medium", "high"];
    let four_seven = ["low", "medium", "high", "xhigh", "max"];
    let mut auto = ModelInfo::new("auto", M, K64, 1.0);
    auto.supported_input_types = vec!["TEXT".to_owned()];
    auto.description =
        Some("Models chosen by task for optimal usage and consistent quality".into());
    vec![
        auto,
        ModelInfo::new("claude-sonnet-4", K200, K64, 1.3),
        ModelInfo::new("claude-sonnet-4.5", K200, K64, 1.3),
        ModelInfo::new("claude-haiku-4.5", K200, K64, 0.4),
        ModelInfo::new("claude-opus-4.5", K200, K64, 2.2),
        ModelInfo::new("claude-sonnet-4.6", M, K64, 1.3).with_schema(effort_schema(&four_six)),
        ModelInfo::new("claude-opus-4.6", M, K64, 2.2).with_schema(effort_schema(&four_six)),
        ModelInfo::new("claude-opus-4.7", M, K64, 2.2).with_schema(effort_schema(&four_seven)),
        ModelInfo::new("claude-opus-4.8", M, K64, 2.2).with_schema(effort_schema(&four_seven)),
        ModelInfo::new("claude-sonnet-5", M, K64, 1.3)
            .with_schema(json!({"type": "object", "properties": {}})),
        ModelInfo::new("claude-opus-5", M, 128_000, 2.2).with_schema(opus5_schema()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_acceptance_follows_the_schema() {
        let models = default_models();
        let accepts: Vec<&str> = models
            .iter()
            .filter(|m| m.accepts_effort())
            .map(|m| m.model_id.as_str())
            .collect();
        assert_eq!(
            accepts,
            [
                "claude-sonnet-4.6",
                "claude-opus-4.6",
                "claude-opus-4.7",
                "claude-opus-4.8",
                "claude-opus-5"
            ]
        );
    }
}
