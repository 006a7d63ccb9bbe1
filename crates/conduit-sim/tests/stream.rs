//! The event stream: frame encoding, scripted steps, trailer, cuts and delays.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use conduit_sim::{Match, Rule, Step, ToolUseStep, DEFAULT_TEXT};
use serde_json::json;

#[tokio::test]
async fn default_reply_is_text_then_metering_context_and_token_usage() {
    let sim = sim().await;
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    assert_eq!(
        kinds(&frames),
        [
            "assistantResponseEvent",
            "meteringEvent",
            "contextUsageEvent",
            "metadataEvent"
        ]
    );
    assert_eq!(text(&frames), DEFAULT_TEXT);
    for f in &frames {
        assert_eq!(f.message_type, "event");
        assert_eq!(f.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            f.header_names,
            [":event-type", ":content-type", ":message-type"]
        );
    }
    assert_eq!(
        frames[1].raw_payload.split(':').next(),
        Some("{\"unit\""),
        "metering keys are alphabetical"
    );
    assert_eq!(frames[1].payload["unitPlural"], "credits");
    let pct = frames[2].payload["contextUsagePercentage"]
        .as_f64()
        .unwrap();
    assert!(pct > 0.0 && pct < 1.0, "small request, small usage: {pct}");
}

#[tokio::test]
async fn both_bindings_serve_chat() {
    let sim = sim().await;
    let resp = client()
        .post(format!("{}/", sim.base_url()))
        .header("x-amz-target", CHAT_TARGET)
        .header("content-type", "application/x-amz-json-1.0")
        .bearer_auth(TOKEN)
        .body(request("Hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text(&frames(resp).await), DEFAULT_TEXT);
    let resp = client()
        .post(format!("{}/", sim.base_url()))
        .bearer_auth(TOKEN)
        .json(&request("Hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "POST / without a target is unknown");
    assert_eq!(sim.chat_count(), 1);
}

#[tokio::test]
async fn text_is_split_into_chunks_of_the_given_size() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::text_chunked("Hello world", 4)]));
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    let pieces: Vec<&str> = frames
        .iter()
        .filter(|f| f.kind == "assistantResponseEvent")
        .map(|f| f.payload["content"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, ["Hell", "o wo", "rld"]);
}

#[tokio::test]
async fn thinking_tags_are_split_across_frames() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::thinking("Let me think", 5),
        Step::text("Answer"),
    ]));
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    let pieces: Vec<&str> = frames
        .iter()
        .filter(|f| f.kind == "assistantResponseEvent")
        .map(|f| f.payload["content"].as_str().unwrap())
        .collect();
    assert_eq!(&pieces[..2], ["<thin", "king>"]);
    assert_eq!(text(&frames), "<thinking>Let me think</thinking>\n\nAnswer");
}

#[tokio::test]
async fn tool_use_is_the_five_frame_lifecycle() {
    let sim = sim().await;
    let input = json!({"city": "Dhaka"});
    sim.add_rule(Rule::reply(vec![Step::ToolUse {
        tool_use: ToolUseStep {
            name: "get_weather".into(),
            input: input.clone(),
            id: Some("t1".into()),
            fragments: Some(2),
            truncate: false,
        },
    }]));
    let frames = frames(chat(&sim, &request("weather?")).await).await;
    assert_eq!(
        kinds(&frames),
        [
            "toolUseEvent",
            "toolUseEvent",
            "toolUseEvent",
            "toolUseEvent",
            "toolUseEvent",
            "meteringEvent",
            "contextUsageEvent",
            "metadataEvent"
        ]
    );
    assert_eq!(
        frames[0].raw_payload,
        r#"{"name":"get_weather","toolUseId":"t1"}"#
    );
    assert_eq!(
        frames[1].raw_payload,
        r#"{"input":"","name":"get_weather","toolUseId":"t1"}"#
    );
    assert_eq!(
        frames[4].raw_payload,
        r#"{"name":"get_weather","stop":true,"toolUseId":"t1"}"#
    );
    let args: String = frames[1..4]
        .iter()
        .map(|f| {
            assert_eq!(f.payload["name"], "get_weather");
            assert_eq!(f.payload["toolUseId"], "t1");
            f.payload["input"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&args).unwrap(),
        input
    );
}

#[tokio::test]
async fn generated_tool_use_ids_look_real() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::tool_use(
        "Read",
        json!({"path": "/x"}),
    )]));
    let frames = frames(chat(&sim, &request("read")).await).await;
    let id = frames[0].payload["toolUseId"].as_str().unwrap();
    assert!(
        id.starts_with("tooluse_") && id.len() == "tooluse_".len() + 22,
        "{id}"
    );
}

#[tokio::test]
async fn truncated_tool_use_has_no_stop_and_no_trailer() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::ToolUse {
        tool_use: ToolUseStep {
            name: "Write".into(),
            input: json!({"content": "a long file body"}),
            id: None,
            fragments: Some(3),
            truncate: true,
        },
    }]));
    let frames = frames(chat(&sim, &request("write")).await).await;
    assert!(frames.iter().all(|f| f.kind == "toolUseEvent"));
    assert!(frames.iter().all(|f| f.payload.get("stop").is_none()));
    assert_eq!(
        frames.len(),
        1 + 1 + 2,
        "start, empty input, 2 of 3 fragments"
    );
}

#[tokio::test]
async fn exception_frame_ends_the_stream() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::text("partial"),
        Step::exception("ThrottlingException", "Too many requests, please wait."),
        Step::text("never sent"),
    ]));
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    assert_eq!(
        kinds(&frames),
        ["assistantResponseEvent", "ThrottlingException"]
    );
    assert_eq!(frames[1].message_type, "exception");
    assert_eq!(
        frames[1].header_names,
        [":exception-type", ":content-type", ":message-type"]
    );
    assert_eq!(
        frames[1].payload,
        json!({"message": "Too many requests, please wait."})
    );
}

#[tokio::test]
async fn cut_drops_the_connection_after_the_frames_sent_so_far() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::text("Hello"),
        Step::text(" there"),
        Step::cut(),
        Step::text("never sent"),
    ]));
    let (bytes, failed) = read_until_error(chat(&sim, &request("Hi")).await).await;
    assert!(failed, "the body must end with an error, not a clean end");
    let frames = decode(&bytes);
    assert_eq!(text(&frames), "Hello there");
    assert!(kinds(&frames)
        .iter()
        .all(|k| *k == "assistantResponseEvent"));
}

#[tokio::test]
async fn delay_holds_back_the_first_frame() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::delay_ms(400), Step::text("late")]));
    let started = Instant::now();
    let mut resp = chat(&sim, &request("Hi")).await;
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "headers come first"
    );
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(text(&decode(&first)), "late");
}

#[tokio::test]
async fn frames_arrive_as_separate_chunks() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::text("one"),
        Step::delay_ms(100),
        Step::text("two"),
    ]));
    let mut resp = chat(&sim, &request("Hi")).await;
    let first = resp.chunk().await.unwrap().unwrap();
    assert_eq!(text(&decode(&first)), "one");
}

#[tokio::test]
async fn context_usage_and_metering_can_be_overridden() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::text("x"),
        Step::ContextUsage {
            context_usage: 101.5,
        },
        Step::Metering { metering: 0.5 },
    ]));
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    assert_eq!(frames[1].payload["usage"], 0.5);
    assert_eq!(frames[2].payload["contextUsagePercentage"], 101.5);
}

#[tokio::test]
async fn context_usage_grows_with_the_request() {
    let sim = sim().await;
    let small = frames(chat(&sim, &request("Hi")).await).await;
    let big = frames(chat(&sim, &request(&"x".repeat(400_000))).await).await;
    let pct = |f: &[Frame]| f[2].payload["contextUsagePercentage"].as_f64().unwrap();
    assert!((pct(&big) - 50.0).abs() < 1.0, "{}", pct(&big));
    assert!(pct(&small) < pct(&big));
}

#[tokio::test]
async fn raw_events_pass_through() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        serde_json::from_value(json!({"event": {"event_type": "messageMetadataEvent",
            "payload": {"utteranceId": "u", "conversationId": "c"}}}))
        .unwrap(),
        Step::text("x"),
    ]));
    let frames = frames(chat(&sim, &request("Hi")).await).await;
    assert_eq!(frames[0].kind, "messageMetadataEvent");
    assert_eq!(
        frames[0].raw_payload,
        r#"{"conversationId":"c","utteranceId":"u"}"#
    );
}

#[tokio::test]
async fn rules_match_in_order_and_expire_after_times() {
    let sim = sim().await;
    sim.add_rule(
        Rule::reply(vec![Step::text("once")])
            .when_contains("ping")
            .times(1)
            .id("r1"),
    );
    sim.add_rule(Rule::reply(vec![Step::text("pong")]).when(Match {
        contains: Some("ping".into()),
        model: Some("claude-sonnet-4.5".into()),
        ..Match::default()
    }));
    let got = |f: Vec<Frame>| text(&f);
    assert_eq!(
        got(frames(chat(&sim, &request("ping")).await).await),
        "once"
    );
    assert_eq!(
        got(frames(chat(&sim, &request("ping")).await).await),
        "pong"
    );
    assert_eq!(
        got(frames(chat(&sim, &request("other")).await).await),
        DEFAULT_TEXT
    );
    let rules: Vec<_> = sim.log().iter().map(|e| e.rule.clone()).collect();
    assert_eq!(rules, [Some("r1".into()), Some("rule-2".into()), None]);
    assert_eq!(sim.rules().len(), 1);
}

#[tokio::test]
async fn tool_result_rules_match_on_results() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::text("done")]).when(Match {
        has_tool_results: Some(true),
        tool_result_contains: Some("written".into()),
        ..Match::default()
    }));
    let body = json!({
        "conversationState": {
            "conversationId": "c",
            "history": [
                {"userInputMessage": {"content": "write", "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
                {"assistantResponseMessage": {"content": " ", "toolUses": [
                    {"toolUseId": "t1", "name": "Write", "input": {"path": "x"}}]}}
            ],
            "currentMessage": {"userInputMessage": {"content": "", "modelId": "claude-sonnet-4.5",
                "origin": "AI_EDITOR", "userInputMessageContext": {
                    "toolResults": [{"toolUseId": "t1", "content": [{"text": "file written"}], "status": "success"}],
                    "tools": [{"toolSpecification": {"name": "Write", "description": "Write a file",
                        "inputSchema": {"json": {"type": "object"}}}}]}}}
        },
        "profileArn": ARN
    });
    assert_eq!(text(&frames(chat(&sim, &body).await).await), "done");
}
