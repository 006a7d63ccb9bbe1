//! Scripted replies on the Bedrock runtime and the Anthropic API: stop reasons, exceptions,
//! cuts, raw events, rule matching on the Messages view, pings during silences.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod messages_common;

use conduit_sim::anthropic::TEST_API_KEY;
use conduit_sim::{ConfigPatch, Match, RawEvent, Rule, Step};
use messages_common::*;
use serde_json::{json, Value};

const OPUS: &str = "us.anthropic.claude-opus-4-7";
const STREAM: &str = "invoke-with-response-stream";

/// (rule, expected stop_reason of the streamed reply).
#[tokio::test]
async fn stop_reasons() {
    let sim = sim().await;
    let cases = [
        (vec![Step::text("short")], "end_turn"),
        (vec![Step::tool_use("ls", json!({}))], "tool_use"),
        (vec![Step::text("x".repeat(100))], "max_tokens"),
    ];
    for (steps, stop) in cases {
        sim.add_rule(Rule::reply(steps).times(1));
        let mut b = body("go");
        b["max_tokens"] = json!(10);
        let resp = invoke(&sim, OPUS, STREAM, &b).await;
        let evs = events(&decode(&resp.bytes().await.unwrap()));
        let delta = evs.iter().find(|e| e["type"] == "message_delta").unwrap();
        assert_eq!(delta["delta"]["stop_reason"], stop);
        if stop == "max_tokens" {
            assert_eq!(blocks(&evs)[0]["text"].as_str().unwrap().len(), 40);
        }
    }
}

#[tokio::test]
async fn exceptions_cuts_and_raw_events() {
    let sim = sim().await;
    sim.add_rule(
        Rule::reply(vec![
            Step::text("a"),
            Step::exception("throttlingException", "slow down"),
        ])
        .times(2),
    );
    let msgs = decode(
        &invoke(&sim, OPUS, STREAM, &body("x"))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let last = msgs.last().unwrap();
    assert_eq!(last.exception_type.as_deref(), Some("throttlingException"));
    assert_eq!(last.payload["message"], "slow down");
    // The same script on a non-streaming call is that exception's HTTP error.
    let resp = invoke(&sim, OPUS, "invoke", &body("x")).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(error_type(&resp), "ThrottlingException");

    sim.add_rule(Rule::reply(vec![Step::text("partial"), Step::cut()]).times(1));
    let resp = invoke(&sim, OPUS, STREAM, &body("x")).await;
    assert!(
        resp.bytes().await.is_err(),
        "a cut stream never ends cleanly"
    );

    sim.add_rule(
        Rule::reply(vec![
            Step::Event {
                event: RawEvent {
                    event_type: "ping".into(),
                    payload: json!({}),
                },
            },
            Step::text("hi"),
        ])
        .times(1),
    );
    let evs = events(&decode(
        &invoke(&sim, OPUS, STREAM, &body("x"))
            .await
            .bytes()
            .await
            .unwrap(),
    ));
    assert_eq!(evs[1], json!({"type": "ping"}));
}

#[tokio::test]
async fn rules_match_the_messages_view() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![Step::text("tool seen")]).when(Match {
        tool_result_contains: Some("42".into()),
        ..Match::default()
    }));
    sim.add_rule(Rule::reply(vec![Step::text("sonnet")]).when(Match {
        model: Some("us.anthropic.claude-sonnet-4-6".into()),
        ..Match::default()
    }));
    sim.add_rule(Rule::reply(vec![Step::text("greeting")]).when_contains("hello"));
    let with_result = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "add", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]}]});
    let cases = [
        (OPUS, with_result, "tool seen"),
        ("us.anthropic.claude-sonnet-4-6", body("x"), "sonnet"),
        (OPUS, body("well hello"), "greeting"),
        (OPUS, body("other"), conduit_sim::DEFAULT_TEXT),
    ];
    for (model, b, want) in cases {
        let v: Value = invoke(&sim, model, "invoke", &b)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["content"][0]["text"], want, "{model} {b}");
    }
}

#[tokio::test]
async fn anthropic_pings_fill_long_silences() {
    let sim = sim().await;
    sim.configure(ConfigPatch {
        anthropic_ping_interval_ms: Some(50),
        ..ConfigPatch::default()
    });
    sim.add_rule(Rule::reply(vec![Step::delay_ms(180), Step::text("late")]));
    let text = reqwest::Client::new()
        .post(format!("{}/v1/messages", sim.anthropic_base_url()))
        .header("x-api-key", TEST_API_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "claude-opus-4-7", "max_tokens": 50, "stream": true,
                      "messages": [{"role": "user", "content": "x"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pings = sse(&text).iter().filter(|(e, _)| e == "ping").count();
    assert_eq!(
        pings,
        1 + 3,
        "one after message_start, one per 50 ms of the 180 ms silence"
    );
}
