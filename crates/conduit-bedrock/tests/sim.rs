//! Stories against the real simulator: SigV4-signed (and API-key) calls to its Bedrock runtime,
//! both lanes, thinking signatures round-tripping, tools, prompt-cache usage, refused
//! credentials, a refused beta learned once, exact CountTokens, throttling and in-band
//! exceptions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is the failure report"
)]

use conduit_bedrock::{BedrockConfig, BedrockUpstream, Credentials};
use conduit_core::{
    Block, BlockStart, Call, ErrorKind, Event, FailoverCause, Message, MessagesCall, MessagesReply,
    Request, StopReason, Thinking, Tool, Upstream,
};
use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_BEDROCK_API_KEY, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{BedrockFault, FaultKind, Rule, Sim, SimConfig, SimHandle, Step};
use conduit_upstream::sigv4::AwsCredentials;
use futures::StreamExt;
use serde_json::{json, Map, Value};

const MODEL: &str = "claude-opus-4-7";

struct World {
    sim: SimHandle,
    bedrock: BedrockUpstream,
}

fn config(sim: &SimHandle, region: &str) -> BedrockConfig {
    let mut c = BedrockConfig::new("bedrock-us", region);
    c.endpoint = Some(format!("{}/region/{region}", sim.base_url()));
    c
}

fn creds(secret: &str) -> Credentials {
    Credentials::fixed(AwsCredentials {
        access_key_id: TEST_ACCESS_KEY_ID.into(),
        secret_access_key: secret.into(),
        session_token: None,
    })
}

async fn world() -> World {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let bedrock = BedrockUpstream::with_credentials(
        config(&sim, "us-east-1"),
        &|_| None,
        creds(TEST_SECRET_ACCESS_KEY),
    )
    .unwrap();
    World { sim, bedrock }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

impl World {
    async fn messages_call(&self, body: Value, headers: &[(&str, &str)]) -> MessagesCall {
        let body = obj(body);
        let model = body["model"].as_str().unwrap().to_owned();
        MessagesCall {
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            body,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            model: self.bedrock.resolve(&model).await.unwrap(),
        }
    }

    /// The lossless lane: every event as (name, JSON), or the error.
    async fn messages(
        &self,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Result<Vec<(String, Value)>, conduit_core::Error> {
        let call = self.messages_call(body, headers).await;
        let lane = self.bedrock.messages().unwrap();
        let MessagesReply::Stream(mut events) = lane.send_messages(call).await? else {
            panic!("a streaming call answered with JSON")
        };
        let mut out = Vec::new();
        while let Some(ev) = events.next().await {
            let ev = ev?;
            out.push((ev.name, serde_json::from_slice(&ev.data).unwrap()));
        }
        Ok(out)
    }

    async fn canonical(
        &self,
        request: Request,
    ) -> Result<conduit_core::EventStream, conduit_core::Error> {
        let model = self.bedrock.resolve(&request.model).await.unwrap();
        self.bedrock
            .send(Call {
                message_id: "msg_gateway".into(),
                model,
                request,
            })
            .await
    }

    fn bedrock_log(&self) -> Vec<conduit_sim::LogEntry> {
        self.sim.messages_log("bedrock")
    }
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "max_tokens": 1000, "stream": true,
           "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn thinking_is_signed_and_its_signature_is_accepted_back() {
    let w = world().await;
    w.sim.add_rule(
        Rule::reply(vec![
            Step::thinking("Let me think.", 5),
            Step::text("Four."),
        ])
        .times(1),
    );
    let mut body = ask("2+2?");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 500});
    let events = w.messages(body.clone(), &[]).await.unwrap();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let start = &events[0].1;
    assert_eq!(
        start["message"]["model"], MODEL,
        "the client's name, not the Bedrock id"
    );
    assert!(events
        .iter()
        .all(|(_, v)| v.get("amazon-bedrock-invocationMetrics").is_none()));
    let thinking: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["thinking"].as_str())
        .collect();
    let signature = events
        .iter()
        .find_map(|(_, v)| v["delta"]["signature"].as_str())
        .unwrap()
        .to_owned();
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(
        (thinking.as_str(), text.as_str()),
        ("Let me think.", "Four.")
    );

    // The next turn carries the signed block back; the sim checks the signature.
    w.sim.add_rule(Rule::reply(vec![Step::text("Yes.")]));
    body["messages"] = json!([
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "text", "text": "Four."}]},
        {"role": "user", "content": "Sure?"}]);
    assert!(w.messages(body.clone(), &[]).await.is_ok());

    // A forged signature is the client's error, in Bedrock's words.
    body["messages"][1]["content"][0]["signature"] = json!("forged");
    let e = w.messages(body, &[]).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("Invalid `signature`"), "{}", e.message);
    let log = w.bedrock_log();
    assert!(log
        .iter()
        .all(|e| e.path == "/model/us.anthropic.claude-opus-4-7/invoke-with-response-stream"));
    assert_eq!(log[0].body["anthropic_version"], "bedrock-2023-05-31");
    assert!(log[0].body.get("model").is_none() && log[0].body.get("stream").is_none());
}

#[tokio::test]
async fn canonical_lane_tools_and_thinking_round_trip() {
    let w = world().await;
    w.sim.add_rule(
        Rule::reply(vec![Step::tool_use(
            "get_weather",
            json!({"city": "Paris"}),
        )])
        .times(1),
    );
    let request = Request {
        model: MODEL.into(),
        messages: vec![Message::user_text("Weather in Paris?")],
        tools: vec![Tool {
            name: "get_weather".into(),
            description: "Weather".into(),
            input_schema: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }],
        max_tokens: Some(1000),
        thinking: Thinking::Enabled { budget_tokens: 500 },
        stream: true,
        ..Default::default()
    };
    let events = w.canonical(request.clone()).await.unwrap();
    let response = conduit_core::collect(events).await.unwrap();
    assert_eq!(
        (response.id.as_str(), response.model.as_str()),
        ("msg_gateway", MODEL)
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    let (thinking, tool) = match &response.content[..] {
        [t @ Block::Thinking {
            signature: Some(_), ..
        }, u @ Block::ToolUse { name, input, .. }] => {
            assert_eq!(
                (name.as_str(), input),
                ("get_weather", &json!({"city": "Paris"}))
            );
            (t.clone(), u.clone())
        }
        other => panic!("unexpected content {other:?}"),
    };
    assert!(response.usage.output_tokens > 0);

    // The signed thinking goes back through the codec and is accepted.
    let Block::ToolUse { id, .. } = &tool else {
        unreachable!()
    };
    let mut next = request;
    next.messages.push(Message {
        role: conduit_core::Role::Assistant,
        content: vec![thinking, tool.clone()],
    });
    next.messages.push(Message {
        role: conduit_core::Role::User,
        content: vec![Block::ToolResult {
            tool_use_id: id.clone(),
            content: vec![conduit_core::ToolResultContent::Text("sunny".into())],
            is_error: false,
        }],
    });
    w.sim.add_rule(Rule::reply(vec![Step::text("Sunny.")]));
    let mut events = w.canonical(next).await.unwrap();
    let mut saw_text = false;
    while let Some(ev) = events.next().await {
        if let Event::BlockStart {
            block: BlockStart::Text,
            ..
        } = ev.unwrap()
        {
            saw_text = true;
        }
    }
    assert!(saw_text);
}

#[tokio::test]
async fn cache_tokens_are_reported_as_the_sim_counted_them() {
    let w = world().await;
    let body = json!({"model": MODEL, "max_tokens": 100, "stream": true,
        "system": [{"type": "text", "text": "You are a careful assistant. ".repeat(40),
                    "cache_control": {"type": "ephemeral", "scope": "global"}}],
        "messages": [{"role": "user", "content": "hello"}]});
    let usage_of = |events: &[(String, Value)]| {
        let start = &events[0].1["message"]["usage"];
        let delta = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1["usage"];
        (
            start["cache_creation_input_tokens"].as_u64().unwrap(),
            start["cache_read_input_tokens"].as_u64().unwrap(),
            delta["cache_read_input_tokens"].as_u64().unwrap(),
        )
    };
    let first = w.messages(body.clone(), &[]).await.unwrap();
    let second = w.messages(body, &[]).await.unwrap();
    let log = w.bedrock_log();
    let sim_usage = |i: usize| log[i].usage.clone().unwrap();
    let (created, read, _) = usage_of(&first);
    assert!(created > 0);
    assert_eq!(read, 0);
    assert_eq!(
        created,
        sim_usage(0)["cache_creation_input_tokens"]
            .as_u64()
            .unwrap()
    );
    let (created2, read2, read2_delta) = usage_of(&second);
    assert_eq!((created2, read2), (0, created));
    assert_eq!(
        read2,
        sim_usage(1)["cache_read_input_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        read2_delta, read2,
        "message_delta had no cache fields: message_start's are repeated (clients take the last)"
    );
    // `scope` was dropped from cache_control before it reached Bedrock.
    assert_eq!(
        log[0].body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[tokio::test]
async fn a_wrong_secret_is_a_credentials_error_naming_the_upstream() {
    let w = world().await;
    let bad = BedrockUpstream::with_credentials(
        config(&w.sim, "us-east-1"),
        &|_| None,
        creds("wrong-secret"),
    )
    .unwrap();
    let model = bad.resolve(MODEL).await.unwrap();
    let call = MessagesCall {
        body: obj(ask("hi")),
        headers: vec![],
        model,
        stream: true,
    };
    let Err(e) = bad.messages().unwrap().send_messages(call).await else {
        panic!("signed with the wrong secret")
    };
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::Credentials, Some(FailoverCause::Credentials))
    );
    assert!(
        e.message.starts_with(
            "Bedrock (bedrock-us) refused the AWS credentials: The request signature we calculated"
        ),
        "{}",
        e.message
    );
    assert_eq!(
        bad.status().state,
        conduit_core::UpstreamState::NeedsCredentials
    );

    let unknown = BedrockUpstream::with_credentials(
        config(&w.sim, "us-east-1"),
        &|_| None,
        Credentials::fixed(AwsCredentials {
            access_key_id: "AKIAUNKNOWN".into(),
            secret_access_key: "x".into(),
            session_token: None,
        }),
    )
    .unwrap();
    let e = unknown.canonical_error().await;
    assert_eq!(e.message, "Bedrock (bedrock-us) refused the AWS credentials: The security token included in the request is invalid.");
}

trait CanonicalError {
    async fn canonical_error(&self) -> conduit_core::Error;
}

impl CanonicalError for BedrockUpstream {
    async fn canonical_error(&self) -> conduit_core::Error {
        let request = Request {
            model: MODEL.into(),
            messages: vec![Message::user_text("hi")],
            max_tokens: Some(10),
            stream: true,
            ..Default::default()
        };
        let model = self.resolve(MODEL).await.unwrap();
        match self
            .send(Call {
                message_id: "m".into(),
                model,
                request,
            })
            .await
        {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }
}

#[tokio::test]
async fn a_bedrock_api_key_works_and_a_wrong_one_is_named() {
    let w = world().await;
    w.sim.add_rule(Rule::reply(vec![Step::text("ok")]));
    let env = |k: &str| (k == "AWS_BEARER_TOKEN_BEDROCK").then(|| TEST_BEDROCK_API_KEY.to_owned());
    let keyed = BedrockUpstream::new(config(&w.sim, "us-east-1"), &env)
        .await
        .unwrap();
    let model = keyed.resolve(MODEL).await.unwrap();
    let call = MessagesCall {
        body: obj(ask("hi")),
        headers: vec![],
        model,
        stream: true,
    };
    assert!(keyed.messages().unwrap().send_messages(call).await.is_ok());
    assert!(w.bedrock_log()[0].headers["authorization"].starts_with("Bearer "));

    let bad_env = |k: &str| (k == "AWS_BEARER_TOKEN_BEDROCK").then(|| "ABSKbm9wZQ==".to_owned());
    let bad = BedrockUpstream::new(config(&w.sim, "us-east-1"), &bad_env)
        .await
        .unwrap();
    let e = bad.canonical_error().await;
    assert_eq!(e.kind, ErrorKind::Credentials);
    assert!(
        e.message
            .starts_with("Bedrock (bedrock-us) refused the Bedrock API key: Authentication failed"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_refused_beta_is_learned_and_retried_once() {
    let w = world().await;
    let headers = [
        ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ("anthropic-beta", "fresh-beta-2026-01-01"),
    ];
    assert!(w.messages(ask("one"), &headers).await.is_ok());
    let log = w.bedrock_log();
    assert_eq!(log.len(), 2, "refused once, then sent once more");
    assert_eq!(log[0].status, 400);
    assert_eq!(
        log[1].body["anthropic_beta"],
        json!(["claude-code-20250219"])
    );
    // Learned: the next request goes without the refused betas at once.
    assert!(w.messages(ask("two"), &headers).await.is_ok());
    assert_eq!(w.bedrock_log().len(), 3);
    let betas = w.bedrock.status().detail["betas"]["us.anthropic.claude-opus-4-7"].clone();
    assert_eq!(betas["oauth-2025-04-20"], "unsupported");
}

#[tokio::test]
async fn count_tokens_is_exact() {
    let w = world().await;
    let body = json!({"model": MODEL, "max_tokens": 100, "stream": true,
        "system": "Count me.", "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "How many tokens is this?"}]});
    let call = w.messages_call(body.clone(), &[]).await;
    let counted = w
        .bedrock
        .messages()
        .unwrap()
        .count_messages_tokens(call)
        .await
        .unwrap();
    w.messages(body, &[]).await.unwrap();
    let log = w.bedrock_log();
    assert_eq!(log[0].path, "/model/anthropic.claude-opus-4-7/count-tokens");
    let usage = log[1].usage.clone().unwrap();
    let total = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| usage[*k].as_u64().unwrap())
    .sum::<u64>();
    assert_eq!(u64::from(counted), total);
}

#[tokio::test]
async fn throttling_is_an_error_a_router_fails_over_on() {
    let w = world().await;
    w.sim
        .add_bedrock_fault(BedrockFault::new(FaultKind::Throttle).times(1));
    let e = w.messages(ask("hi"), &[]).await.unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::RateLimited, Some(FailoverCause::Throttled))
    );
    assert!(e.message.contains("Too many requests"), "{}", e.message);
    w.sim
        .add_bedrock_fault(BedrockFault::new(FaultKind::Unavailable).times(1));
    assert_eq!(
        w.bedrock.canonical_error().await.cause,
        Some(FailoverCause::ServerError)
    );
}

#[tokio::test]
async fn in_band_exceptions_end_the_stream_or_fail_the_send() {
    let w = world().await;
    w.sim.add_rule(Rule::reply(vec![Step::text_chunked(
        "a long answer that goes on",
        3,
    )]));
    w.sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::StreamException)
            .exception("modelStreamErrorException")
            .after_events(2)
            .times(1),
    );
    let mut events = w
        .canonical(Request {
            model: MODEL.into(),
            messages: vec![Message::user_text("hi")],
            max_tokens: Some(100),
            stream: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut items = Vec::new();
    while let Some(item) = events.next().await {
        items.push(item);
    }
    let e = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::Overloaded, Some(FailoverCause::ServerError))
    );
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));

    // As the very first frame, the exception is what `send` returns.
    w.sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::StreamException)
            .after_events(0)
            .times(1),
    );
    let e = w.messages(ask("hi"), &[]).await.unwrap_err();
    assert_eq!(e.cause, Some(FailoverCause::Throttled));
}

#[tokio::test]
async fn non_streaming_invoke_answers_json_under_the_clients_name() {
    let w = world().await;
    w.sim.add_rule(Rule::reply(vec![Step::text("plain")]));
    let mut body = ask("hi");
    body["stream"] = json!(false);
    body["model"] = json!("claude-haiku-4-5-20251001");
    let call = w.messages_call(body, &[]).await;
    let MessagesReply::Json(bytes) = w
        .bedrock
        .messages()
        .unwrap()
        .send_messages(call)
        .await
        .unwrap()
    else {
        panic!("expected JSON")
    };
    let message: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(message["model"], "claude-haiku-4-5-20251001");
    assert_eq!(message["content"][0]["text"], "plain");
    assert_eq!(message["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(
        w.bedrock_log()[0].path,
        "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke"
    );
}

#[tokio::test]
async fn regions_and_unknown_models() {
    let w = world().await;
    let eu = BedrockUpstream::with_credentials(
        config(&w.sim, "eu-west-1"),
        &|_| None,
        creds(TEST_SECRET_ACCESS_KEY),
    )
    .unwrap();
    assert!(eu
        .messages()
        .unwrap()
        .send_messages(MessagesCall {
            body: obj(ask("hi")),
            headers: vec![],
            model: eu.resolve(MODEL).await.unwrap(),
            stream: true
        })
        .await
        .is_ok());
    let log = w.bedrock_log();
    assert_eq!(
        (log[0].region.as_deref(), log[0].path.as_str()),
        (
            Some("eu-west-1"),
            "/model/eu.anthropic.claude-opus-4-7/invoke-with-response-stream"
        )
    );
    assert!(w.bedrock.resolve("gpt-4o").await.is_none());

    // `[1m]`: the same model with the 1M-context beta in the body.
    let mut one_m = ask("long");
    one_m["model"] = json!("claude-opus-4-6[1m]");
    let call = w.messages_call(one_m, &[]).await;
    assert_eq!(call.model.context_window, 1_000_000);
    assert!(w
        .bedrock
        .messages()
        .unwrap()
        .send_messages(call)
        .await
        .is_ok());
    let last = w.bedrock_log().pop().unwrap();
    assert_eq!(
        last.path,
        "/model/us.anthropic.claude-opus-4-6-v1/invoke-with-response-stream"
    );
    assert_eq!(
        last.body["anthropic_beta"],
        json!(["context-1m-2025-08-07"])
    );
}
