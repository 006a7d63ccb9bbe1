//! Request decoding: fixture bodies in, canonical requests (or Anthropic error bodies) out.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, like tests, fail loudly on broken fixtures"
)]

use std::fmt::Write as _;
use std::path::PathBuf;

use conduit_anthropic::{decode_count_tokens, decode_request, error_body, RequestHeaders};
use conduit_core::Error;

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Render an outcome: the canonical request as JSON, or the error as status and wire body.
fn render(result: Result<conduit_core::Request, Error>) -> String {
    match result {
        Ok(request) => serde_json::to_string_pretty(&request).unwrap(),
        Err(e) => {
            let (status, body) = error_body(&e);
            format!("{status} {}", String::from_utf8(body).unwrap())
        }
    }
}

/// Decode `requests/<name>.json` as a `/v1/messages` body sent by a Claude Code session and
/// snapshot the canonical request.
fn check(name: &str) {
    let headers = RequestHeaders {
        session_id: Some("6c1d2a7e-0b7e-4a57-9f6e-1f0c3c1b2f10".into()),
    };
    let body = fixture(&format!("requests/{name}.json"));
    let result = decode_request(&body, &headers);
    assert!(result.is_ok(), "{name}: {}", render(result));
    insta::assert_snapshot!(name, render(result));
}

#[test]
fn claude_code_request() {
    check("claude_code");
}

#[test]
fn tool_results_and_images() {
    check("tool_results_and_images");
}

#[test]
fn system_role_messages_are_folded_and_turns_merged() {
    check("system_role_and_merging");
}

#[test]
fn minimal_request() {
    check("minimal");
}

#[test]
fn server_tools_are_dropped() {
    check("server_tools_dropped");
}

#[test]
fn tool_choice_without_tools_and_unknown_effort_are_dropped() {
    check("only_server_tools_and_unknown_effort");
}

/// Claude Code 2.1.3xx: JSON `metadata.user_id`, `task_budget`, `context_management`,
/// `fallbacks`, tool search (a server search tool, a deferred tool, server-side search blocks in
/// history, a `tool_reference` result) and unknown fields: none is an error.
#[test]
fn claude_code_2_1_3xx_body_fields() {
    check("claude_code_2_1_3xx");
}

/// The session id for stickiness comes from the header, else from `metadata.user_id`.
#[test]
fn session_id_from_metadata_user_id() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        (
            r#""{\"device_id\":\"d1\",\"account_uuid\":\"a1\",\"session_id\":\"0b9e6a3c-2f4d-4e8a-9c1b-7d5e3f2a1b0c\"}""#,
            None,
            Some("0b9e6a3c-2f4d-4e8a-9c1b-7d5e3f2a1b0c"),
        ),
        (
            r#""user_3f2a_account_9b1c2d3e-0000-4000-8000-000000000001_session_7d5e3f2a-1b0c-4e8a-9c1b-0b9e6a3c2f4d""#,
            None,
            Some("7d5e3f2a-1b0c-4e8a-9c1b-0b9e6a3c2f4d"),
        ),
        (
            r#""user_3f2a_account__session_7d5e3f2a-1b0c-4e8a-9c1b-0b9e6a3c2f4d""#,
            Some("header-session"),
            Some("header-session"),
        ),
        (r#""plain-user-42""#, None, None),
        (r#""{\"device_id\":\"d1\"}""#, None, None),
        (r#"{"session_id":"s-object"}"#, None, Some("s-object")),
        (r#"null"#, None, None),
        (r#"17"#, None, None),
    ];
    for (user_id, header, want) in cases {
        let body = format!(
            r#"{{"model":"m","max_tokens":1,"metadata":{{"user_id":{user_id}}},"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        let headers = RequestHeaders {
            session_id: header.map(str::to_owned),
        };
        let got = decode_request(body.as_bytes(), &headers).unwrap();
        assert_eq!(got.meta.session_id.as_deref(), *want, "user_id {user_id}");
    }
}

#[test]
fn count_tokens_needs_no_max_tokens() {
    let request = decode_count_tokens(&fixture("count_tokens.json")).unwrap();
    assert_eq!(request.max_tokens, None);
    assert!(!request.stream);
    assert_eq!(request.meta.session_id, None);
    insta::assert_snapshot!("count_tokens", render(Ok(request)));
}

#[test]
fn blank_session_header_is_no_session() {
    let headers = RequestHeaders {
        session_id: Some("  ".into()),
    };
    let body = fixture("requests/minimal.json");
    assert_eq!(
        decode_request(&body, &headers).unwrap().meta.session_id,
        None
    );
}

/// Bodies a client might send that must be refused, each with the message it gets.
#[test]
fn invalid_requests() {
    let cases: &[(&str, &str)] = &[
        ("empty body", ""),
        ("malformed json", r#"{"model": "claude", "#),
        (
            "trailing garbage",
            r#"{"model":"m","max_tokens":1,"messages":[]} x"#,
        ),
        ("not an object", r#"[1, 2]"#),
        (
            "missing model",
            r#"{"max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "empty model",
            r#"{"model":" ","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        ("missing messages", r#"{"model":"m","max_tokens":1}"#),
        (
            "missing max_tokens",
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "zero max_tokens",
            r#"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "max_tokens as string",
            r#"{"model":"m","max_tokens":"10","messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "empty messages",
            r#"{"model":"m","max_tokens":1,"messages":[]}"#,
        ),
        (
            "only system messages",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#,
        ),
        (
            "unknown role",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}"#,
        ),
        (
            "content not string or list",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":7}]}"#,
        ),
        (
            "block without type",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"text":"x"}]}]}"#,
        ),
        (
            "text block without text",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
        ),
        (
            "tool_use without id",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","name":"X","input":{}}]}]}"#,
        ),
        (
            "image url source",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}"#,
        ),
        (
            "image file source",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}"#,
        ),
        (
            "image bad media type",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"AA=="}}]}]}"#,
        ),
        (
            "image in tool_result via url",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]}]}"#,
        ),
        (
            "pdf document",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]}"#,
        ),
        (
            "document url",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}"#,
        ),
        (
            "server tool block in history",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}}]}]}"#,
        ),
        (
            "tool_use inside tool_result",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}]}"#,
        ),
        (
            "image in system",
            r#"{"model":"m","max_tokens":1,"system":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}],"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "custom tool without schema",
            r#"{"model":"m","max_tokens":1,"tools":[{"name":"Read","description":"read"}],"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "custom tool without name",
            r#"{"model":"m","max_tokens":1,"tools":[{"description":"read","input_schema":{}}],"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "unknown thinking type",
            r#"{"model":"m","max_tokens":1,"thinking":{"type":"turbo"},"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "enabled thinking without budget",
            r#"{"model":"m","max_tokens":1,"thinking":{"type":"enabled"},"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "unknown tool_choice",
            r#"{"model":"m","max_tokens":1,"tools":[{"name":"a","input_schema":{}}],"tool_choice":{"type":"sometimes"},"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    ];
    let mut table = String::new();
    for (name, body) in cases {
        let result = decode_request(body.as_bytes(), &RequestHeaders::default());
        assert!(result.is_err(), "{name}: accepted");
        writeln!(table, "{name}\n  {}", render(result)).unwrap();
    }
    insta::assert_snapshot!("invalid_requests", table);
}
