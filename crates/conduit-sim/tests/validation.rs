//! Each request rule of spec §3.4 gives the real 400 (and valid variants pass).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::{ConfigPatch, ProfileArnPolicy, SimConfig};
use serde_json::{json, Value};

const MODEL: &str = "claude-sonnet-4.5";

fn user(content: &str) -> Value {
    json!({"userInputMessage": {"content": content, "modelId": MODEL, "origin": "AI_EDITOR"}})
}

fn assistant(content: &str) -> Value {
    json!({"assistantResponseMessage": {"content": content}})
}

fn assistant_tool(id: &str) -> Value {
    json!({"assistantResponseMessage": {"content": " ",
        "toolUses": [{"toolUseId": id, "name": "Read", "input": {"path": "a"}}]}})
}

fn tool_spec(name: &str, description: &str) -> Value {
    json!({"toolSpecification": {"name": name, "description": description,
        "inputSchema": {"json": {"type": "object", "properties": {}}}}})
}

fn results(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"toolUseId": id, "content": [{"text": "ok"}], "status": "success"}))
            .collect(),
    )
}

/// A request with this history; `current` patches the current userInputMessage.
fn req(history: Vec<Value>, current: Value) -> Value {
    let mut body = request("Hi");
    let cur = &mut body["conversationState"]["currentMessage"]["userInputMessage"];
    if let Value::Object(patch) = current {
        for (k, v) in patch {
            cur[k] = v;
        }
    }
    if !history.is_empty() {
        body["conversationState"]["history"] = Value::Array(history);
    }
    body
}

fn ctx(tools: Value, tool_results: Value) -> Value {
    let mut c = json!({});
    if !tools.is_null() {
        c["tools"] = tools;
    }
    if !tool_results.is_null() {
        c["toolResults"] = tool_results;
    }
    json!({ "userInputMessageContext": c })
}

fn improperly_formed() -> Value {
    json!({"message": "Improperly formed request.", "reason": null})
}

#[tokio::test]
async fn request_rules_table() {
    let read = json!([tool_spec("Read", "Read a file")]);
    let cases: Vec<(&str, Value, u16, Value)> = vec![
        ("minimal request", request("Hi"), 200, Value::Null),
        (
            "alternating history",
            req(vec![user("a"), assistant("b")], json!({})),
            200,
            Value::Null,
        ),
        (
            "history starting with assistant",
            req(vec![assistant("b"), user("a"), assistant("c")], json!({})),
            400,
            improperly_formed(),
        ),
        (
            "two users in a row",
            req(vec![user("a"), user("b"), assistant("c")], json!({})),
            400,
            improperly_formed(),
        ),
        (
            "history ending with user",
            req(vec![user("a"), assistant("b"), user("c")], json!({})),
            400,
            improperly_formed(),
        ),
        (
            "two assistants in a row",
            req(
                vec![user("a"), assistant("b"), assistant("c"), user("d")],
                json!({}),
            ),
            400,
            improperly_formed(),
        ),
        (
            "empty current content",
            request(""),
            400,
            improperly_formed(),
        ),
        (
            "empty history user content",
            req(vec![user(""), assistant("b")], json!({})),
            400,
            improperly_formed(),
        ),
        (
            "empty assistant content",
            req(vec![user("a"), assistant("")], json!({})),
            400,
            improperly_formed(),
        ),
        (
            "empty content with tool results is fine",
            req(
                vec![user("a"), assistant_tool("t1")],
                json!({"content": "", "userInputMessageContext":
                    {"tools": read.clone(), "toolResults": results(&["t1"])}}),
            ),
            200,
            Value::Null,
        ),
        (
            "tool result for an unknown tool use",
            req(
                vec![user("a"), assistant_tool("t1")],
                ctx(read.clone(), results(&["t1", "t2"])),
            ),
            400,
            improperly_formed(),
        ),
        (
            "tool use without result",
            req(
                vec![user("a"), assistant_tool("t1")],
                ctx(read.clone(), Value::Null),
            ),
            400,
            improperly_formed(),
        ),
        (
            "tool use answered two turns later",
            req(
                vec![user("a"), assistant_tool("t1"), user("b"), assistant("c")],
                ctx(read.clone(), results(&["t1"])),
            ),
            400,
            improperly_formed(),
        ),
        (
            "duplicate tool result ids",
            req(
                vec![user("a"), assistant_tool("t1")],
                ctx(read.clone(), results(&["t1", "t1"])),
            ),
            400,
            improperly_formed(),
        ),
        (
            "tool content without tools",
            req(
                vec![user("a"), assistant_tool("t1")],
                ctx(Value::Null, results(&["t1"])),
            ),
            400,
            improperly_formed(),
        ),
        (
            "tools defined without tool content",
            req(vec![], ctx(read.clone(), Value::Null)),
            200,
            Value::Null,
        ),
        (
            "tool name of 64 chars",
            req(
                vec![],
                ctx(json!([tool_spec(&"n".repeat(64), "d")]), Value::Null),
            ),
            200,
            Value::Null,
        ),
        (
            "tool name of 65 chars",
            req(
                vec![],
                ctx(json!([tool_spec(&"n".repeat(65), "d")]), Value::Null),
            ),
            400,
            improperly_formed(),
        ),
        (
            "empty tool description",
            req(vec![], ctx(json!([tool_spec("Read", "")]), Value::Null)),
            400,
            improperly_formed(),
        ),
        (
            "tool description of 10240 chars",
            req(
                vec![],
                ctx(json!([tool_spec("Read", &"d".repeat(10_240))]), Value::Null),
            ),
            200,
            Value::Null,
        ),
        (
            "tool description of 10241 chars",
            req(
                vec![],
                ctx(json!([tool_spec("Read", &"d".repeat(10_241))]), Value::Null),
            ),
            400,
            improperly_formed(),
        ),
        (
            "dash-form model id",
            req(vec![], json!({"modelId": "claude-sonnet-4-5"})),
            400,
            json!({"message": "Invalid model. Please select a different model to continue.",
                   "reason": "INVALID_MODEL_ID"}),
        ),
        (
            "auto model",
            req(vec![], json!({"modelId": "auto"})),
            200,
            Value::Null,
        ),
        (
            "png image",
            req(
                vec![],
                json!({"images": [{"format": "png", "source": {"bytes": "iVBORw0KGgo="}}]}),
            ),
            200,
            Value::Null,
        ),
        (
            "bmp image",
            req(
                vec![],
                json!({"images": [{"format": "bmp", "source": {"bytes": "Qk0="}}]}),
            ),
            400,
            improperly_formed(),
        ),
        (
            "assistant as current message",
            {
                let mut b = request("Hi");
                b["conversationState"]["currentMessage"] = assistant("x");
                b
            },
            400,
            improperly_formed(),
        ),
        (
            "missing profileArn",
            {
                let mut b = request("Hi");
                b.as_object_mut().unwrap().remove("profileArn");
                b
            },
            400,
            json!({"message": "profileArn is required for this request.", "reason": null}),
        ),
        (
            "payload above 615,000 bytes",
            request(&"x".repeat(615_001)),
            400,
            improperly_formed(),
        ),
        (
            "no conversationState",
            json!({"profileArn": ARN}),
            400,
            improperly_formed(),
        ),
    ];
    let sim = sim().await;
    let mut failures = Vec::new();
    for (name, body, status, expected) in cases {
        let resp = chat(&sim, &body).await;
        let got = resp.status().as_u16();
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.bytes().await.unwrap();
        if got != status {
            failures.push(format!("{name}: status {got}, expected {status}"));
            continue;
        }
        if status == 400 {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            if body != expected {
                failures.push(format!("{name}: body {body}"));
            }
            if error_type.as_deref() != Some("ValidationException") {
                failures.push(format!("{name}: x-amzn-errortype {error_type:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn profile_arn_policy_is_configurable() {
    let mut body = request("Hi");
    body.as_object_mut().unwrap().remove("profileArn");
    let sim = sim_with(SimConfig {
        profile_arn_policy: ProfileArnPolicy::Optional,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(chat(&sim, &body).await.status(), 200);
    sim.configure(ConfigPatch {
        profile_arn_policy: Some(ProfileArnPolicy::Required),
        ..ConfigPatch::default()
    });
    assert_eq!(chat(&sim, &body).await.status(), 400);
}

#[tokio::test]
async fn invalid_requests_are_logged_with_their_status() {
    let sim = sim().await;
    chat(&sim, &request("")).await;
    let log = sim.log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 400);
    assert_eq!(log[0].path, "/generateAssistantResponse");
    assert_eq!(log[0].bearer(), Some(TOKEN));
    assert_eq!(log[0].body["profileArn"], ARN);
}
