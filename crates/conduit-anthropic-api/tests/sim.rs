//! Stories against the real simulator's Anthropic Messages API and Claude Platform on AWS:
//! both lanes, headers and betas passed through, errors unmodified, exact count_tokens,
//! throttling and overload as failover causes, SigV4 with the workspace header.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is the failure report"
)]

use conduit_anthropic_api::{AnthropicApiConfig, AnthropicApiUpstream, AwsPlatform};
use conduit_core::{
    Block, Call, ErrorKind, FailoverCause, Message, MessagesCall, MessagesReply, Request,
    StopReason, Thinking, Upstream, UpstreamState,
};
use conduit_sim::anthropic::TEST_API_KEY;
use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{BedrockFault, FaultKind, Rule, Sim, SimConfig, SimHandle, Step};
use futures::StreamExt;
use serde_json::{json, Map, Value};

const MODEL: &str = "claude-opus-4-7";

async fn upstream(sim: &SimHandle, key: Option<&str>) -> AnthropicApiUpstream {
    let mut config = AnthropicApiConfig::new("anthropic");
    config.base_url = Some(sim.anthropic_base_url());
    let key = key.map(str::to_owned);
    AnthropicApiUpstream::new(config, &move |k: &str| {
        (k == "ANTHROPIC_API_KEY").then(|| key.clone()).flatten()
    })
    .await
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

async fn call(up: &AnthropicApiUpstream, body: Value, headers: &[(&str, &str)]) -> MessagesCall {
    let body = obj(body);
    let model = body["model"].as_str().unwrap().to_owned();
    MessagesCall {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        body,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        model: up.resolve(&model).await.unwrap(),
    }
}

async fn lossless(
    up: &AnthropicApiUpstream,
    body: Value,
    headers: &[(&str, &str)],
) -> Result<Vec<(String, Value)>, conduit_core::Error> {
    let c = call(up, body, headers).await;
    let MessagesReply::Stream(mut events) = up.messages().unwrap().send_messages(c).await? else {
        panic!("expected a stream")
    };
    let mut out = Vec::new();
    while let Some(ev) = events.next().await {
        let ev = ev?;
        out.push((ev.name, serde_json::from_slice(&ev.data).unwrap()));
    }
    Ok(out)
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "max_tokens": 500, "stream": true, "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn lossless_lane_passes_headers_and_events_through() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let up = upstream(&sim, Some(TEST_API_KEY)).await;
    sim.add_rule(Rule::reply(vec![Step::thinking("hmm", 2), Step::text("Hello.")]).times(1));
    let mut body = ask("hi");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 200});
    body["context_management"] = json!({"edits": []});
    let headers = [
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "context-management-2025-06-27"),
    ];
    let events = lossless(&up, body.clone(), &headers).await.unwrap();
    assert_eq!(events.first().unwrap().0, "message_start");
    assert_eq!(events.last().unwrap().0, "message_stop");
    let signature = events
        .iter()
        .find_map(|(_, v)| v["delta"]["signature"].as_str())
        .unwrap()
        .to_owned();
    let log = sim.messages_log("anthropic");
    assert_eq!(
        log[0].headers["anthropic-beta"],
        "context-management-2025-06-27"
    );
    assert_eq!(log[0].headers["x-api-key"], TEST_API_KEY);
    assert_eq!(
        log[0].body["context_management"],
        json!({"edits": []}),
        "the body goes as the client sent it"
    );

    // The signature round-trips.
    body["messages"] = json!([{"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": signature}, {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "again"}]);
    assert!(lossless(&up, body, &headers).await.is_ok());
}

#[tokio::test]
async fn canonical_lane_with_tools() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let up = upstream(&sim, Some(TEST_API_KEY)).await;
    sim.add_rule(Rule::reply(vec![Step::tool_use("lookup", json!({"q": "x"}))]).times(1));
    let request = Request {
        model: MODEL.into(),
        messages: vec![Message::user_text("look it up")],
        tools: vec![conduit_core::Tool {
            name: "lookup".into(),
            description: "d".into(),
            input_schema: json!({"type": "object"}),
        }],
        thinking: Thinking::Adaptive,
        max_tokens: Some(500),
        stream: true,
        ..Default::default()
    };
    let model = up.resolve(MODEL).await.unwrap();
    let events = up
        .send(Call {
            request,
            model,
            message_id: "msg_gw".into(),
        })
        .await
        .unwrap();
    let response = conduit_core::collect(events).await.unwrap();
    assert_eq!(
        (response.id.as_str(), response.stop_reason),
        ("msg_gw", StopReason::ToolUse)
    );
    assert!(response.content.iter().any(|b| matches!(b, Block::ToolUse { name, input, .. } if name == "lookup" && input == &json!({"q": "x"}))));
}

#[tokio::test]
async fn errors_come_back_unmodified_and_typed() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let bad = upstream(&sim, Some("sk-ant-wrong")).await;
    let e = lossless(&bad, ask("hi"), &[]).await.unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::Credentials, Some(FailoverCause::Credentials))
    );
    assert!(
        e.message
            .starts_with("Anthropic API (anthropic) refused the API key: invalid x-api-key"),
        "{}",
        e.message
    );
    let raw = e.raw.unwrap();
    assert_eq!(raw.status, 401);
    let body: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(bad.status().state, UpstreamState::NeedsCredentials);

    let missing = upstream(&sim, None).await;
    assert_eq!(missing.status().state, UpstreamState::NeedsCredentials);
    assert!(lossless(&missing, ask("hi"), &[])
        .await
        .unwrap_err()
        .message
        .contains("ANTHROPIC_API_KEY"));

    let up = upstream(&sim, Some(TEST_API_KEY)).await;
    sim.add_bedrock_fault(BedrockFault::new(FaultKind::Throttle).anthropic().times(1));
    let e = lossless(&up, ask("hi"), &[]).await.unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::RateLimited, Some(FailoverCause::Throttled))
    );
    sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::Unavailable)
            .anthropic()
            .times(1),
    );
    let e = lossless(&up, ask("hi"), &[]).await.unwrap_err();
    assert_eq!(
        (e.cause, e.raw.unwrap().status),
        (Some(FailoverCause::ServerError), 529)
    );

    let mut unknown = ask("hi");
    unknown["model"] = json!("claude-nonexistent-9");
    let e = lossless(&up, unknown, &[]).await.unwrap_err();
    assert_eq!(e.cause, Some(FailoverCause::ModelUnavailable));
    assert!(up.resolve("gpt-4o").await.is_none());
}

#[tokio::test]
async fn count_tokens_is_the_upstreams() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let up = upstream(&sim, Some(TEST_API_KEY)).await;
    let body = json!({"model": MODEL, "system": "s", "messages": [{"role": "user", "content": "count these words please"}]});
    let counted = up
        .messages()
        .unwrap()
        .count_messages_tokens(call(&up, body.clone(), &[]).await)
        .await
        .unwrap();
    let mut send = body;
    send["max_tokens"] = json!(10);
    send["stream"] = json!(true);
    lossless(&up, send, &[]).await.unwrap();
    let log = sim.messages_log("anthropic");
    assert_eq!(log[0].path, "/anthropic/v1/messages/count_tokens");
    let usage = log[1].usage.clone().unwrap();
    let total: u64 = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| usage[*k].as_u64().unwrap())
    .sum();
    assert_eq!(u64::from(counted), total);
}

#[tokio::test]
async fn claude_platform_on_aws_signs_and_sends_the_workspace() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.add_rule(Rule::reply(vec![Step::text("aws ok")]));
    let mut config = AnthropicApiConfig::new("claude-aws");
    config.base_url = Some(sim.aws_external_anthropic_url("us-east-1"));
    config.workspace_id = Some("wrkspc_test".into());
    config.aws = Some(AwsPlatform {
        region: "us-east-1".into(),
        profile: None,
    });
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(TEST_ACCESS_KEY_ID.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(TEST_SECRET_ACCESS_KEY.to_owned()),
        _ => None,
    };
    let up = AnthropicApiUpstream::new(config.clone(), &env)
        .await
        .unwrap();
    let events = lossless(&up, ask("hi"), &[]).await.unwrap();
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "aws ok");
    let log = sim.messages_log("anthropic");
    assert_eq!(log[0].headers["anthropic-workspace-id"], "wrkspc_test");
    assert!(log[0].headers["authorization"].contains("/aws-external-anthropic/aws4_request"));

    let bad_env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(TEST_ACCESS_KEY_ID.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("wrong".to_owned()),
        _ => None,
    };
    let bad = AnthropicApiUpstream::new(config, &bad_env).await.unwrap();
    let e = lossless(&bad, ask("hi"), &[]).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Credentials);
    assert!(
        e.message.contains("refused the AWS credentials"),
        "{}",
        e.message
    );
}
