//! The Anthropic Messages API (`/anthropic/v1/...`) and Claude Platform on AWS
//! (`/aws-external-anthropic/v1/...`).
#![allow(
    clippy::unwrap_used,
    clippy::type_complexity,
    reason = "test helpers panic on unexpected answers; case tables are tuples"
)]

mod messages_common;

use conduit_sim::anthropic::TEST_API_KEY;
use conduit_sim::{BedrockFault, ConfigPatch, FaultKind, Rule, Step};
use messages_common::*;
use serde_json::{json, Value};

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 256, "stream": stream,
           "messages": [{"role": "user", "content": "hello"}]})
}

async fn post(
    sim: &conduit_sim::SimHandle,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

const OK: [(&str, &str); 2] = [
    ("x-api-key", TEST_API_KEY),
    ("anthropic-version", "2023-06-01"),
];

#[tokio::test]
async fn request_checks() {
    let sim = sim().await;
    sim.configure(ConfigPatch {
        anthropic_rejected_betas: Some(vec!["fast-mode-2026-02-01".into()]),
        ..ConfigPatch::default()
    });
    let no_max = json!({"model": "claude-opus-4-7", "messages": []});
    let beta = [
        OK[0],
        OK[1],
        (
            "anthropic-beta",
            "interleaved-thinking-2025-05-14,fast-mode-2026-02-01",
        ),
    ];
    let cases: Vec<(&str, Vec<(&str, &str)>, Value, u16, &str)> = vec![
        (
            "bad key",
            vec![("x-api-key", "sk-nope"), OK[1]],
            body("claude-opus-4-7", false),
            401,
            "authentication_error",
        ),
        (
            "no version",
            vec![OK[0]],
            body("claude-opus-4-7", false),
            400,
            "invalid_request_error",
        ),
        (
            "unknown model",
            OK.to_vec(),
            body("claude-nope-1", false),
            404,
            "not_found_error",
        ),
        (
            "no max_tokens",
            OK.to_vec(),
            no_max,
            400,
            "invalid_request_error",
        ),
        (
            "rejected beta",
            beta.to_vec(),
            body("claude-opus-4-7", false),
            400,
            "invalid_request_error",
        ),
        (
            "dated model",
            OK.to_vec(),
            body("claude-haiku-4-5-20251001", false),
            200,
            "",
        ),
    ];
    for (name, headers, b, status, kind) in cases {
        let resp = post(&sim, "/anthropic/v1/messages", &headers, &b).await;
        assert_eq!(resp.status().as_u16(), status, "{name}");
        assert!(resp.headers().contains_key("request-id"));
        let v: Value = resp.json().await.unwrap();
        if status == 200 {
            assert_eq!(v["type"], "message");
        } else {
            assert_eq!(v["type"], "error", "{name}");
            assert_eq!(v["error"]["type"], kind, "{name}");
            assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
        }
    }
    let v: Value = post(
        &sim,
        "/anthropic/v1/messages",
        &OK,
        &body("claude-nope-1", false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["error"]["message"], "model: claude-nope-1");
    let v: Value = post(
        &sim,
        "/anthropic/v1/messages",
        &[("x-api-key", "x"), OK[1]],
        &body("claude-opus-4-7", false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["error"]["message"], "invalid x-api-key");
}

#[tokio::test]
async fn sse_stream_with_pings_and_signed_thinking() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::reasoning("Plan it."),
        Step::text("Done."),
    ]));
    let resp = post(
        &sim,
        "/anthropic/v1/messages",
        &OK,
        &body("claude-sonnet-4-6", true),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let frames = sse(&resp.text().await.unwrap());
    let names: Vec<&str> = frames.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names[..2], ["message_start", "ping"]);
    assert_eq!(names.last(), Some(&"message_stop"));
    for (e, d) in &frames {
        assert_eq!(d["type"], e.as_str());
    }
    assert!(frames
        .last()
        .unwrap()
        .1
        .get("amazon-bedrock-invocationMetrics")
        .is_none());
    let evs: Vec<Value> = frames.iter().map(|(_, d)| d.clone()).collect();
    let content = blocks(&evs);
    assert_eq!(content[0]["thinking"], "Plan it.");
    // Replay: the sim's signature passes, a tampered one is refused.
    let replay = |thinking: Value| {
        json!({"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "Done."}]},
            {"role": "user", "content": "more"}]})
    };
    let ok = post(
        &sim,
        "/anthropic/v1/messages",
        &OK,
        &replay(content[0].clone()),
    )
    .await;
    assert_eq!(ok.status().as_u16(), 200);
    let mut bad = content[0].clone();
    bad["signature"] = json!("AAAA");
    let resp = post(&sim, "/anthropic/v1/messages", &OK, &replay(bad)).await;
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    );
}

#[tokio::test]
async fn count_tokens_matches_usage_and_cache() {
    let sim = sim().await;
    let mut b = body("claude-opus-4-7", false);
    b["system"] = json!([{"type": "text", "text": "Be brief. ".repeat(50), "cache_control": {"type": "ephemeral"}}]);
    let count: Value = post(&sim, "/anthropic/v1/messages/count_tokens", &OK, &b)
        .await
        .json()
        .await
        .unwrap();
    let first: Value = post(&sim, "/anthropic/v1/messages", &OK, &b)
        .await
        .json()
        .await
        .unwrap();
    let second: Value = post(&sim, "/anthropic/v1/messages", &OK, &b)
        .await
        .json()
        .await
        .unwrap();
    let u1 = &first["usage"];
    let total =
        u1["input_tokens"].as_u64().unwrap() + u1["cache_creation_input_tokens"].as_u64().unwrap();
    assert_eq!(count["input_tokens"], total);
    assert_eq!(
        second["usage"]["cache_read_input_tokens"],
        u1["cache_creation_input_tokens"]
    );
    let models: Value = reqwest::Client::new()
        .get(format!("{}/anthropic/v1/models", sim.base_url()))
        .header("x-api-key", TEST_API_KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "claude-opus-4-7");
}

#[tokio::test]
async fn faults_use_anthropic_errors() {
    let sim = sim().await;
    sim.add_bedrock_fault(BedrockFault::new(FaultKind::Throttle).anthropic().times(1));
    sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::Unavailable)
            .anthropic()
            .times(1),
    );
    // A Bedrock fault does not touch the Anthropic API.
    sim.add_bedrock_fault(BedrockFault::new(FaultKind::AccessDenied));
    for (status, kind) in [(429, "rate_limit_error"), (529, "overloaded_error")] {
        let resp = post(
            &sim,
            "/anthropic/v1/messages",
            &OK,
            &body("claude-opus-4-7", false),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], kind);
    }
    let resp = post(
        &sim,
        "/anthropic/v1/messages",
        &OK,
        &body("claude-opus-4-7", false),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::StreamException)
            .anthropic()
            .after_events(1)
            .times(1),
    );
    let text = post(
        &sim,
        "/anthropic/v1/messages",
        &OK,
        &body("claude-opus-4-7", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let frames = sse(&text);
    assert_eq!(frames.last().unwrap().0, "error");
    assert_eq!(
        frames.last().unwrap().1["error"]["type"],
        "overloaded_error"
    );
}

#[tokio::test]
async fn claude_platform_on_aws() {
    let sim = sim().await;
    let url = format!(
        "{}/region/us-east-1/aws-external-anthropic/v1/messages",
        sim.base_url()
    );
    let b = body("claude-opus-4-7", false).to_string();
    let send = |signer: Signer, workspace: bool| {
        let url = url.clone();
        let b = b.clone();
        async move {
            let mut extra = vec![("anthropic-version", "2023-06-01")];
            if workspace {
                extra.push(("anthropic-workspace-id", "wrkspc_sim"));
            }
            let mut req = reqwest::Client::new().post(&url).body(b.clone());
            for (k, v) in &extra {
                req = req.header(*k, *v);
            }
            req = req.header("content-type", "application/json");
            for (k, v) in signer.headers(&url, &extra, b.as_bytes()) {
                req = req.header(k, v);
            }
            req.send().await.unwrap()
        }
    };
    let aws = Signer::new("us-east-1").service("aws-external-anthropic");
    let resp = send(aws.clone(), true).await;
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );
    let resp = send(aws.clone(), false).await;
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "anthropic-workspace-id: header is required"
    );
    assert_eq!(
        send(Signer::new("us-east-1"), true).await.status().as_u16(),
        403
    );
    assert_eq!(send(aws.secret("wrong"), true).await.status().as_u16(), 403);
    // A workspace API key works too.
    let resp = post(
        &sim,
        "/aws-external-anthropic/v1/messages",
        &[OK[0], OK[1], ("anthropic-workspace-id", "wrkspc_sim")],
        &body("claude-opus-4-7", false),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let log = sim.messages_log("anthropic");
    assert_eq!(log[0].path, "/aws-external-anthropic/v1/messages");
    assert_eq!(log[0].region.as_deref(), Some("us-east-1"));
    assert!(log[0].usage.is_some());
}
