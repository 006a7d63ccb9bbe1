//! What Claude Code 2.1.3xx sends besides its turns (spec claude-code.md, "Claude Code 2.1.3xx"):
//! the `HEAD /api/hello` warm-up probe, `/v1/models?limit=1000`, the agent-id headers. None of
//! them may cause an error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use harness::{user, KEY};
use serde_json::{json, Value};

#[tokio::test]
async fn api_hello_is_answered_at_once_without_the_upstream() {
    let gw = harness::start().await;
    let before = gw.sim_log().await.len();
    // Claude Code sends it with its credential; a probe without one is answered as well.
    for (method, key) in [("HEAD", Some(KEY)), ("HEAD", None), ("GET", Some(KEY))] {
        let mut req = gw
            .http
            .request(method.parse().unwrap(), format!("{}/api/hello", gw.url));
        if let Some(k) = key {
            req = req
                .header("x-api-key", k)
                .header("anthropic-version", "2023-06-01");
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{method} {key:?}");
        let body = r.text().await.unwrap();
        if method == "HEAD" {
            assert!(body.is_empty(), "HEAD has no body: {body}");
        } else {
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["message"],
                "hello"
            );
        }
    }
    assert_eq!(
        gw.sim_log().await.len(),
        before,
        "the probe never reaches the upstream"
    );
}

#[tokio::test]
async fn model_discovery_with_limit_and_either_credential_header() {
    let gw = harness::start().await;
    // Claude Code: `GET /v1/models?limit=1000`, exactly one credential header.
    let bearer = gw
        .http
        .get(format!("{}/v1/models?limit=1000", gw.url))
        .bearer_auth(KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let keyed = gw
        .get("/v1/models?limit=1000&after_id=x")
        .send()
        .await
        .unwrap();
    for r in [bearer, keyed] {
        assert_eq!(r.status().as_u16(), 200, "no redirect, no error");
        let v: Value = r.json().await.unwrap();
        let ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        // Claude Code keeps the ids that contain `claude`.
        assert!(ids.iter().any(|id| id.contains("claude")), "{ids:?}");
    }
}

#[tokio::test]
async fn agent_id_headers_are_accepted_as_attribution() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"contains": "subagent"}, "reply": [{"text": "done"}]}))
        .await;
    let mut body = user("subagent task");
    body["stream"] = json!(true);
    let r = gw
        .post("/v1/messages?beta=true")
        .header(
            "x-claude-code-session-id",
            "7d3c1f9e-0000-4000-8000-000000000001",
        )
        .header("x-claude-code-agent-id", "agent-7f3a")
        .header("x-claude-code-parent-agent-id", "agent-root")
        .header("x-app", "cli")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let events = harness::parse_sse(&r.text().await.unwrap());
    assert!(events.iter().all(|(n, _)| n != "error"), "{events:?}");
    assert_eq!(gw.chat_requests().await.len(), 1);
}

#[tokio::test]
async fn the_key_as_bearer_wins_over_another_x_api_key() {
    // Claude Code sends both headers when ANTHROPIC_API_KEY (say, from the shell) sits next to
    // the ANTHROPIC_AUTH_TOKEN conduit wrote.
    let gw = harness::start().await;
    let both = |api_key: &str, bearer: &str| {
        gw.http
            .get(format!("{}/v1/models", gw.url))
            .header("x-api-key", api_key.to_string())
            .bearer_auth(bearer)
            .header("anthropic-version", "2023-06-01")
            .send()
    };
    assert_eq!(both("sk-ant-other", KEY).await.unwrap().status(), 200);
    assert_eq!(both(KEY, "sk-ant-other").await.unwrap().status(), 200);
    let r = both("sk-ant-other", "also-wrong").await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn a_claude_code_2_1_3xx_turn_with_every_new_field_is_served() {
    // Tool search (a server tool, `defer_loading`, `tool_reference` blocks), task_budget,
    // context_management, `fallbacks`, metadata.user_id as JSON, adaptive thinking, a `[1m]`
    // model name: the body C's decoder fixture records.
    let gw = harness::start().await;
    let body: Value = serde_json::from_str(include_str!(
        "../../conduit-anthropic/tests/fixtures/requests/claude_code_2_1_3xx.json"
    ))
    .unwrap();
    let r = gw
        .post("/v1/messages?beta=true")
        .header(
            "anthropic-beta",
            "claude-code-20250219,advanced-tool-use-2025-11-20,task-budgets-2026-03-13",
        )
        .header(
            "x-claude-code-session-id",
            "0b9e6a3c-2f4d-4e8a-9c1b-7d5e3f2a1b0c",
        )
        .header("x-claude-code-agent-id", "agent-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let events = harness::parse_sse(&r.text().await.unwrap());
    assert!(events.iter().all(|(n, _)| n != "error"), "{events:?}");
    assert_eq!(events.last().unwrap().0, "message_stop", "{events:?}");
    let [sent] = gw.chat_requests().await.try_into().unwrap();
    let kiro = &sent["body"];
    assert_eq!(sent["status"], 200, "{sent}");
    // Adaptive thinking is never forwarded; the effort goes as Kiro's own field.
    let fields = &kiro["additionalModelRequestFields"];
    assert!(fields.get("thinking").is_none(), "{fields}");
    assert_eq!(fields["output_config"]["effort"], "high", "{kiro}");
    let text = kiro.to_string();
    for gone in [
        "tool_search_tool_regex_20251119",
        "task_budget",
        "some_future_field",
    ] {
        assert!(!text.contains(gone), "{gone} reached Kiro: {text}");
    }
}
