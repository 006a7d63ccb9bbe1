//! Tool definitions for Kiro: name shortening, description limits and JSON-schema sanitising.

use std::collections::HashMap;

use conduit_core::Request;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::wire::{InputSchema, Tool, ToolSpecification};

/// The service rejects longer tool names.
pub const MAX_TOOL_NAME: usize = 64;
/// Description of a placeholder spec added for a tool that only history mentions.
const HISTORY_TOOL_DESCRIPTION: &str = "Tool used in conversation history";

/// The Kiro name of a client tool name: unchanged up to 64 characters, else a deterministic
/// `prefix_<sha256 hex[:8]>` of exactly 64 characters.
pub fn kiro_tool_name(name: &str) -> String {
    if name.chars().count() <= MAX_TOOL_NAME {
        return name.to_string();
    }
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    let prefix: String = name.chars().take(MAX_TOOL_NAME - 9).collect();
    format!("{prefix}_{}", &hash[..8])
}

/// Kiro name → client name for every tool name the conversion shortens (tools and history).
/// Names absent from the map are the same on both sides.
pub fn tool_name_map(req: &Request) -> HashMap<String, String> {
    let tools = req.tools.iter().map(|t| t.name.as_str());
    let history = req.messages.iter().flat_map(|m| {
        m.content.iter().filter_map(|b| match b {
            conduit_core::Block::ToolUse { name, .. } => Some(name.as_str()),
            _ => None,
        })
    });
    tools
        .chain(history)
        .filter_map(|name| {
            let short = kiro_tool_name(name);
            (short != name).then(|| (short, name.to_string()))
        })
        .collect()
}

/// Tool specs plus the documentation that did not fit into descriptions (for the system prompt).
pub struct ToolSpecs {
    pub tools: Vec<Tool>,
    pub docs: Vec<String>,
}

pub fn tool_specs(req: &Request, description_max: usize) -> ToolSpecs {
    let mut tools = Vec::new();
    let mut docs = Vec::new();
    for tool in &req.tools {
        let name = kiro_tool_name(&tool.name);
        let trimmed = tool.description.trim();
        let description = if trimmed.is_empty() {
            format!("Tool: {name}")
        } else if trimmed.chars().count() > description_max {
            docs.push(format!("## Tool: {name}\n{trimmed}"));
            format!("[Full documentation in system prompt under '## Tool: {name}']")
        } else {
            trimmed.to_string()
        };
        tools.push(spec(name, description, sanitize_schema(&tool.input_schema)));
    }
    ToolSpecs { tools, docs }
}

fn spec(name: String, description: String, json: Value) -> Tool {
    Tool {
        tool_specification: ToolSpecification {
            name,
            description,
            input_schema: InputSchema { json },
        },
    }
}

/// Adds a placeholder spec for every history tool name the tools do not define
/// (compared case-insensitively, as the service does).
pub fn add_history_tools<'a>(tools: &mut Vec<Tool>, used: impl IntoIterator<Item = &'a str>) {
    for name in used {
        let known = tools
            .iter()
            .any(|t| t.tool_specification.name.eq_ignore_ascii_case(name));
        if !known {
            tools.push(spec(
                name.to_string(),
                HISTORY_TOOL_DESCRIPTION.to_string(),
                serde_json::json!({"type": "object", "properties": {}}),
            ));
        }
    }
}

/// A schema the service accepts: an object schema without `$schema`, `$id`,
/// `additionalProperties`, empty `required` or null values.
pub fn sanitize_schema(schema: &Value) -> Value {
    let mut out = match clean(schema) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    out.insert("type".into(), Value::String("object".into()));
    if !matches!(out.get("properties"), Some(Value::Object(_))) {
        out.insert("properties".into(), Value::Object(Map::new()));
    }
    Value::Object(out)
}

/// Cleans one schema node; recurses only into places that hold schemas, so property *names*
/// such as `$id` survive.
fn clean(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            (_, Value::Null) | ("$schema" | "$id" | "additionalProperties", _) => {}
            ("required", Value::Array(a)) if a.is_empty() => {}
            ("required", v) if !v.is_array() => {}
            ("properties" | "patternProperties" | "$defs" | "definitions", Value::Object(m)) => {
                let cleaned = m.iter().map(|(k, v)| (k.clone(), clean(v))).collect();
                out.insert(key.clone(), Value::Object(cleaned));
            }
            ("items" | "not" | "additionalItems" | "contains", v) => {
                out.insert(key.clone(), clean(v));
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(a)) => {
                out.insert(key.clone(), Value::Array(a.iter().map(clean).collect()));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// Tool-call input as the service wants it: an object without empty-string keys.
pub fn sanitize_input(input: &Value) -> Value {
    match input {
        Value::Object(_) => strip_empty_keys(input),
        Value::Null => Value::Object(Map::new()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => strip_empty_keys(&v),
            _ => serde_json::json!({ "input": s }),
        },
        other => serde_json::json!({ "input": other }),
    }
}

fn strip_empty_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.clone(), strip_empty_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_empty_keys).collect()),
        other => other.clone(),
    }
}
