//! Converter fixtures: canonical request JSON in `fixtures/convert/*.json`, Kiro request JSON
//! out as insta snapshots.
//!
//! A fixture is `{"request": <partial canonical Request>, "options": {...}?}`; fields missing
//! from the request take their defaults. Options: `tool_description_max`, `max_payload_bytes`,
//! `profile_arn`, `model_id` (with its fallback schema), `model_schema` (a schema or null).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::path::Path;

use conduit_core::Request;
use conduit_kiro::convert::{
    encode_request, encode_request_and_json, json_for_account, tool_name_map, EncodeOptions,
};
use conduit_kiro::reasoning::fallback_schema;
use serde_json::{json, Value};

fn request(partial: &Value) -> Request {
    let mut base = serde_json::to_value(Request::default()).unwrap();
    for (k, v) in partial.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn options(o: Option<&Value>) -> EncodeOptions {
    let mut opts = EncodeOptions {
        model_id: "claude-sonnet-4.5".into(),
        conversation_id: "00000000-0000-4000-8000-000000000000".into(),
        ..EncodeOptions::default()
    };
    if let Some(o) = o {
        if let Some(n) = o.get("tool_description_max").and_then(Value::as_u64) {
            opts.tool_description_max = n as usize;
        }
        if let Some(n) = o.get("max_payload_bytes").and_then(Value::as_u64) {
            opts.max_payload_bytes = n as usize;
        }
        if let Some(s) = o.get("profile_arn").and_then(Value::as_str) {
            opts.profile_arn = Some(s.into());
        }
        // A Kiro model id: its schema is the documented fallback unless `model_schema` says.
        if let Some(id) = o.get("model_id").and_then(Value::as_str) {
            opts.model_id = id.into();
            opts.model_schema = fallback_schema(id);
        }
        if let Some(schema) = o.get("model_schema") {
            opts.model_schema = Some(schema.clone()).filter(|s| !s.is_null());
        }
    }
    opts
}

/// Encodes one fixture; the output is the Kiro body, or the error, plus the tool-name map.
fn check(path: &Path) -> Value {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let req = request(&fixture["request"]);
    let out = match encode_request(&req, &options(fixture.get("options"))) {
        Ok(body) => {
            // The body is what we send: it must serialise and fit the limit.
            let bytes = serde_json::to_vec(&body).unwrap();
            assert!(bytes.len() <= options(fixture.get("options")).max_payload_bytes);
            serde_json::to_value(&body).unwrap()
        }
        Err(e) => json!({"error": {"kind": format!("{:?}", e.kind), "message": e.message}}),
    };
    let names = tool_name_map(&req);
    if names.is_empty() {
        out
    } else {
        json!({"body": out, "tool_names": names})
    }
}

fn fixture_paths() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10);
    paths
}

/// The bytes sent for an account (its ARN spliced into the body serialised once) are exactly
/// what serialising the body with that ARN gives: for every fixture, with and without an ARN
/// (one that needs escaping too), with and without the model fields dropped.
#[test]
fn account_bytes_equal_serialising_the_changed_body() {
    let arns = [
        None,
        Some("arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC"),
        Some("arn:\"quoted\"\\x"),
    ];
    let mut checked = 0;
    for path in fixture_paths() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let req = request(&fixture["request"]);
        let mut opts = options(fixture.get("options"));
        opts.profile_arn = None;
        let Ok((body, json)) = encode_request_and_json(&req, &opts) else {
            continue;
        };
        assert_eq!(
            json,
            serde_json::to_vec(&body).unwrap(),
            "{}",
            path.display()
        );
        // A body that already has an ARN gets the account's instead (read back, not spliced).
        let mut with_arn = body.clone();
        with_arn.profile_arn = Some("arn:old".into());
        let old = serde_json::to_vec(&with_arn).unwrap();
        let fields = body.additional_model_request_fields.as_ref();
        let replaced = json_for_account(&old, fields, Some("arn:new"), false).unwrap();
        with_arn.profile_arn = Some("arn:new".into());
        assert_eq!(
            replaced,
            serde_json::to_vec(&with_arn).unwrap(),
            "{}",
            path.display()
        );
        for arn in arns {
            for drop_fields in [false, true] {
                let mut changed = body.clone();
                changed.profile_arn = arn.map(str::to_owned);
                if drop_fields {
                    changed.additional_model_request_fields = None;
                }
                let fields = body.additional_model_request_fields.as_ref();
                let spliced = json_for_account(&json, fields, arn, drop_fields).unwrap();
                assert_eq!(
                    String::from_utf8(spliced).unwrap(),
                    serde_json::to_string(&changed).unwrap(),
                    "{} arn {arn:?} drop {drop_fields}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "{checked}");
}

#[test]
fn convert_fixtures() {
    for path in fixture_paths() {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        insta::with_settings!({ description => name.clone(), omit_expression => true }, {
            insta::assert_json_snapshot!(name, check(&path));
        });
    }
}
