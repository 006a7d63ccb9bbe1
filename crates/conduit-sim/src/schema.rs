//! A small JSON-schema checker for `additionalModelRequestFieldsSchema`: `type`, `properties`,
//! `required`, `enum`, `additionalProperties`, `minimum`, `maximum`. Like the service, it treats
//! an object schema with `properties` as closed unless `additionalProperties` says otherwise.

use serde_json::{Map, Value};

/// Where and why a value breaks the schema.
pub(crate) type SchemaError = String;

/// Check `value` against `schema`.
pub(crate) fn check(value: &Value, schema: &Value) -> Result<(), SchemaError> {
    at(value, schema, "$")
}

fn type_matches(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn at(value: &Value, schema: &Value, path: &str) -> Result<(), SchemaError> {
    let Some(schema) = schema.as_object() else {
        // `true` admits everything, `false` nothing.
        return match schema {
            Value::Bool(false) => Err(format!("{path}: not allowed")),
            _ => Ok(()),
        };
    };
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(value, t) => {
            return Err(format!("{path}: expected {t}"));
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(value, t)) =>
        {
            return Err(format!("{path}: wrong type"));
        }
        _ => {}
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(value) {
            return Err(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(format!("{path}: {n} < minimum {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(format!("{path}: {n} > maximum {max}"));
            }
        }
    }
    if let Value::Object(obj) = value {
        object(obj, schema, path)?;
    }
    Ok(())
}

fn object(
    obj: &Map<String, Value>,
    schema: &Map<String, Value>,
    path: &str,
) -> Result<(), SchemaError> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for r in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                return Err(format!("{path}: `{r}` is required"));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties");
    for (k, v) in obj {
        let sub = format!("{path}.{k}");
        match (props.and_then(|p| p.get(k)), extra) {
            (Some(s), _) => at(v, s, &sub)?,
            (None, Some(Value::Bool(true))) => {}
            (None, Some(s @ Value::Object(_))) => at(v, s, &sub)?,
            // Closed: `additionalProperties: false`, or `properties` given without it.
            (None, Some(Value::Bool(false))) => return Err(format!("{sub}: not allowed")),
            (None, _) if props.is_some() => return Err(format!("{sub}: not allowed")),
            (None, _) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let s = crate::catalog::opus5_schema();
        let cases = [
            (json!({}), true),
            (json!({"output_config": {"effort": "max"}}), true),
            (json!({"output_config": {"effort": "extreme"}}), false),
            (json!({"output_config": {"effort": "high", "x": 1}}), false),
            (json!({"thinking": {"type": "adaptive"}}), true),
            (json!({"thinking": {"display": "omitted"}}), false),
            (json!({"max_tokens": 1024}), true),
            (json!({"max_tokens": 1023}), false),
            (json!({"max_tokens": 128_001}), false),
            (json!({"max_tokens": 2048.5}), false),
            (json!({"top_k": 3}), false),
            (json!([]), false),
        ];
        for (v, ok) in cases {
            assert_eq!(check(&v, &s).is_ok(), ok, "{v}");
        }
        let empty = json!({"type": "object", "properties": {}});
        assert!(check(&json!({}), &empty).is_ok());
        assert!(check(&json!({"output_config": {"effort": "high"}}), &empty).is_err());
        let open = json!({"type": "object"});
        assert!(check(&json!({"anything": 1}), &open).is_ok());
    }
}
