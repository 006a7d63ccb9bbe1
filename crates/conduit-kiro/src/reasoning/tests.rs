use conduit_core::{Effort, Request, Thinking};
use serde_json::{json, Value};

use super::*;

fn req(thinking: Thinking, effort: Option<Effort>) -> Request {
    Request {
        thinking,
        effort,
        ..Request::default()
    }
}

#[test]
fn requested_effort_follows_the_client() {
    let cases = [
        (Thinking::Disabled, None, None),
        (Thinking::Disabled, Some(Effort::Low), Some(Effort::Low)),
        (Thinking::Adaptive, None, Some(Effort::High)),
        (Thinking::Adaptive, Some(Effort::Max), Some(Effort::Max)),
        (
            Thinking::Enabled {
                budget_tokens: 1_024,
            },
            None,
            Some(Effort::Low),
        ),
        (
            Thinking::Enabled {
                budget_tokens: 8_000,
            },
            None,
            Some(Effort::Medium),
        ),
        (
            Thinking::Enabled {
                budget_tokens: 32_000,
            },
            None,
            Some(Effort::High),
        ),
        (
            Thinking::Enabled {
                budget_tokens: 32_000,
            },
            Some(Effort::Low),
            Some(Effort::Low),
        ),
    ];
    for (thinking, effort, want) in cases {
        assert_eq!(
            requested_effort(&req(thinking, effort)),
            want,
            "{thinking:?} {effort:?}"
        );
    }
}

#[test]
fn additional_fields_only_where_the_schema_admits_them() {
    let adaptive = |e: Option<Effort>| req(Thinking::Adaptive, e);
    let effort = |e: &str| Some(json!({"output_config": {"effort": e}}));
    let cases: Vec<(&str, Option<Value>, Request, Option<Value>)> = vec![
        ("no schema", None, adaptive(None), None),
        (
            "asked for none",
            fallback_schema("claude-opus-4.8"),
            req(Thinking::Disabled, None),
            None,
        ),
        (
            "empty schema (sonnet 5)",
            fallback_schema("claude-sonnet-5"),
            adaptive(None),
            None,
        ),
        (
            "opus 4.8, adaptive",
            fallback_schema("claude-opus-4.8"),
            adaptive(None),
            effort("high"),
        ),
        (
            "opus 4.8, xhigh",
            fallback_schema("claude-opus-4.8"),
            adaptive(Some(Effort::XHigh)),
            effort("xhigh"),
        ),
        (
            "opus 4.6 stops at high",
            fallback_schema("claude-opus-4.6"),
            adaptive(Some(Effort::Max)),
            effort("high"),
        ),
        (
            "opus 5 (thinking allowed, never sent)",
            fallback_schema("claude-opus-5"),
            adaptive(Some(Effort::Low)),
            effort("low"),
        ),
        (
            "only a level above the request",
            Some(
                json!({"type": "object", "properties": {"output_config": {"type": "object",
                "properties": {"effort": {"type": "string", "enum": ["high"]}}}}}),
            ),
            adaptive(Some(Effort::Low)),
            effort("high"),
        ),
        (
            "no enum: any level",
            Some(json!({"properties": {"output_config": {"properties": {"effort": {}}}}})),
            adaptive(Some(Effort::XHigh)),
            effort("xhigh"),
        ),
        (
            "thinking required",
            Some(
                json!({"type": "object", "required": ["thinking"], "properties": {
                "thinking": {"type": "object"},
                "output_config": {"type": "object", "properties": {"effort": {"type": "string"}}}}}),
            ),
            adaptive(None),
            None,
        ),
        (
            "effort is not a string",
            Some(
                json!({"type": "object", "properties": {"output_config": {"type": "object",
                "properties": {"effort": {"type": "integer"}}}}}),
            ),
            adaptive(None),
            None,
        ),
        (
            "no known level in the enum",
            Some(
                json!({"type": "object", "properties": {"output_config": {"type": "object",
                "properties": {"effort": {"enum": ["turbo"]}}}}}),
            ),
            adaptive(None),
            None,
        ),
        (
            "GPT-style schema",
            Some(
                json!({"type": "object", "properties": {"reasoning": {"type": "object",
                "properties": {"effort": {"type": "string"}}}}}),
            ),
            adaptive(None),
            None,
        ),
    ];
    for (name, schema, request, want) in cases {
        assert_eq!(additional_fields(schema.as_ref(), &request), want, "{name}");
        assert_eq!(
            supports_native(schema.as_ref()),
            !matches!(
                name,
                "no schema"
                    | "empty schema (sonnet 5)"
                    | "thinking required"
                    | "effort is not a string"
                    | "no known level in the enum"
                    | "GPT-style schema"
            ),
            "{name}"
        );
    }
}

#[test]
fn fallback_knows_only_the_native_models() {
    for id in [
        "auto",
        "claude-sonnet-4.5",
        "claude-haiku-4.5",
        "claude-opus-4.5",
    ] {
        assert_eq!(fallback_schema(id), None, "{id}");
    }
}

#[test]
fn placeholder_signatures_are_stable_and_recognisable() {
    let a = placeholder_signature("hmm");
    assert_eq!(a, placeholder_signature("hmm"));
    assert_ne!(a, placeholder_signature("hmm."));
    assert!(is_placeholder_signature(&a));
    assert!(!is_placeholder_signature("EqQBCkYIBxgCKkD"));
    let mut signer = PlaceholderSigner::new();
    signer.update("h");
    signer.update("mm");
    assert_eq!(signer.finish(), a);
}
