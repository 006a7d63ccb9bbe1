//! The JSON rule and account shapes of docs/simulator.md deserialise into the library types.
#![allow(clippy::unwrap_used, reason = "tests")]

use conduit_sim::{Account, AccountKind, Rule, Step};
use serde_json::json;

#[test]
fn documented_rule_shape_round_trips() {
    let doc = json!({
        "id": "write-file",
        "match": {"contains": "create hello.txt", "has_tool_results": false,
                  "tool_result_contains": "success", "model": "claude-sonnet-4.5"},
        "times": 1,
        "reply": [
            {"delay_ms": 3000},
            {"text": "Hello", "chunk": 4},
            {"thinking": "Let me think", "chunk": 3},
            {"tool_use": {"name": "Write", "input": {"file_path": "/tmp/x", "content": "hi"},
                          "id": "tooluse_1", "fragments": 3, "truncate": false}},
            {"exception": {"type": "ThrottlingException", "message": "Too many requests, please wait."}},
            {"cut": true},
            {"context_usage": 12.5},
            {"metering": 0.2},
            {"event": {"event_type": "messageMetadataEvent", "payload": {"conversationId": "c"}}}
        ],
        "http_error": {"status": 429, "body": {"message": "m", "reason": null}}
    });
    let rule: Rule = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(rule.id.as_deref(), Some("write-file"));
    assert_eq!(rule.matcher.has_tool_results, Some(false));
    assert!(matches!(rule.reply[0], Step::Delay { delay_ms: 3000 }));
    assert!(matches!(&rule.reply[1], Step::Text { chunk: Some(4), .. }));
    assert!(matches!(
        &rule.reply[2],
        Step::Thinking { chunk: Some(3), .. }
    ));
    assert!(matches!(&rule.reply[3], Step::ToolUse { tool_use } if tool_use.fragments == Some(3)));
    assert!(
        matches!(&rule.reply[4], Step::Exception { exception } if exception.kind == "ThrottlingException")
    );
    assert!(matches!(rule.reply[5], Step::Cut { cut: true }));
    assert!(matches!(rule.reply[6], Step::ContextUsage { context_usage } if context_usage == 12.5));
    assert!(matches!(rule.reply[7], Step::Metering { .. }));
    assert!(
        matches!(&rule.reply[8], Step::Event { event } if event.event_type == "messageMetadataEvent")
    );
    let again: Rule = serde_json::from_value(serde_json::to_value(&rule).unwrap()).unwrap();
    assert_eq!(again, rule);
}

#[test]
fn documented_account_shape_has_defaults() {
    let a: Account = serde_json::from_value(json!({
        "access_token": "a", "refresh_token": "r", "kind": "idc", "client_id": "c", "client_secret": "s"
    }))
    .unwrap();
    assert_eq!(a.expires_in, 3600);
    assert_eq!(a.kind, AccountKind::Idc);
    assert!(!a.quota_exhausted);
    let b: Account =
        serde_json::from_value(json!({"access_token": "a", "refresh_token": "r"})).unwrap();
    assert_eq!(b.kind, AccountKind::Social);
}
