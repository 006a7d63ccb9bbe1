//! Gateway stories: a client talks Anthropic Messages to conduit, conduit talks to the Kiro
//! simulator.

mod harness;

use std::time::Duration;

use harness::{parse_sse, user, KEY};
use serde_json::{json, Value};

#[tokio::test]
async fn non_streaming_text() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"contains": "say hi"}, "reply": [{"text": "Hi there, friend.", "chunk": 3}]}))
        .await;
    let (status, body) = gw.messages(user("say hi")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "Hi there, friend.");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(body["usage"]["output_tokens"].as_u64().unwrap() > 0);
    let sent = gw.chat_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["headers"]["authorization"],
        format!("Bearer {}", gw.access_token)
    );
}

#[tokio::test]
async fn streaming_events_come_in_anthropic_order() {
    let gw = harness::start().await;
    gw.rule(
        json!({"match": {"contains": "stream"}, "reply": [{"text": "one two three", "chunk": 4}]}),
    )
    .await;
    let mut body = user("stream please");
    body["stream"] = json!(true);
    let (status, events) = gw.stream(body).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(text, "one two three");
    let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "end_turn");
}

#[tokio::test]
async fn tool_use_round_trip() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"contains": "weather", "has_tool_results": false},
        "reply": [{"text": "Checking."}, {"tool_use": {"name": "get_weather", "input": {"city": "Paris"}, "fragments": 4}}]}))
        .await;
    gw.rule(
        json!({"match": {"has_tool_results": true}, "reply": [{"text": "It is sunny in Paris."}]}),
    )
    .await;
    let tools = json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let (status, first) = gw
        .messages(
            json!({"model": "claude-opus-5-5", "max_tokens": 1000, "tools": tools,
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["stop_reason"], "tool_use");
    let call = first["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap()
        .clone();
    assert_eq!(call["input"], json!({"city": "Paris"}));
    let (status, second) = gw
        .messages(json!({"model": "claude-opus-5-5", "max_tokens": 1000, "tools": tools,
            "messages": [
                {"role": "user", "content": "What is the weather in Paris?"},
                {"role": "assistant", "content": first["content"]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "sunny, 24C"}]}
            ]}))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["content"][0]["text"], "It is sunny in Paris.");
    let sent = gw.chat_requests().await;
    let results = &sent[1]["body"]["conversationState"]["currentMessage"]["userInputMessage"]
        ["userInputMessageContext"]["toolResults"];
    assert_eq!(results[0]["toolUseId"], call["id"]);
}

#[tokio::test]
async fn wrong_and_missing_keys_are_refused() {
    let gw = harness::start().await;
    for key in [Some("wrong"), None] {
        let mut req = gw
            .http
            .post(format!("{}/v1/messages", gw.url))
            .json(&user("hi"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    let r = gw
        .http
        .post(format!("{}/v1/messages?beta=true", gw.url))
        .bearer_auth(KEY)
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "bearer auth and ?beta=true work");
    assert!(gw.chat_requests().await.len() == 1);
}

#[tokio::test]
async fn count_tokens_and_models() {
    let gw = harness::start().await;
    let r = gw
        .post("/v1/messages/count_tokens")
        .json(&json!({"model": "claude-opus-5-5", "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let small: Value = r.json().await.unwrap();
    let r = gw
        .post("/v1/messages/count_tokens")
        .json(
            &json!({"model": "claude-opus-5-5", "system": "You are careful. ".repeat(100),
            "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .send()
        .await
        .unwrap();
    let big: Value = r.json().await.unwrap();
    assert!(big["input_tokens"].as_u64() > small["input_tokens"].as_u64());
    // Counted as Kiro gets it: the thinking instructions the conversion adds count too.
    let r = gw
        .post("/v1/messages/count_tokens")
        .json(&json!({"model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 2000},
            "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    let thinking: Value = r.json().await.unwrap();
    assert!(
        thinking["input_tokens"].as_u64().unwrap() > small["input_tokens"].as_u64().unwrap() + 40,
        "{thinking} vs {small}"
    );
    let r = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    let models: Value = r.json().await.unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.iter().any(|id| id.contains("sonnet")), "{ids:?}");
    // Claude ids in dash form (Kiro's dot form stays inside conduit).
    assert!(
        ids.iter()
            .filter(|id| id.starts_with("claude"))
            .all(|id| !id.contains('.')),
        "{ids:?}"
    );
}

#[tokio::test]
async fn pings_while_upstream_is_silent() {
    let gw = harness::start_with(harness::Options {
        ping_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    gw.rule(json!({"match": {"contains": "slow"}, "reply": [{"text": "first"}, {"delay_ms": 700}, {"text": " second"}]}))
        .await;
    let mut body = user("slow please");
    body["stream"] = json!(true);
    let (status, events) = gw.stream(body).await;
    assert_eq!(status, 200);
    let pings = events.iter().filter(|(n, _)| n == "ping").count();
    assert!(
        pings >= 3,
        "expected pings during the 700 ms silence, got {pings}"
    );
}

#[tokio::test]
async fn context_overflow_reads_like_anthropic() {
    let gw = harness::start().await;
    gw.rule(
        json!({"match": {"contains": "huge"}, "http_error": {"status": 400,
        "body": {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}}}),
    )
    .await;
    let (status, body) = gw.messages(user("huge prompt")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("prompt is too long: "), "{msg}");
    assert!(msg.ends_with(" maximum"), "{msg}");
}

#[tokio::test]
async fn cut_stream_ends_in_an_error_event() {
    let gw = harness::start().await;
    gw.rule(
        json!({"match": {"contains": "cut"}, "reply": [{"text": "partial answer"}, {"cut": true}]}),
    )
    .await;
    let mut body = user("cut me off");
    body["stream"] = json!(true);
    let r = tokio::time::timeout(Duration::from_secs(10), gw.stream(body))
        .await
        .expect("a cut stream never hangs");
    let events = r.1;
    let last = events.last().unwrap();
    assert_eq!(last.0, "error", "{events:?}");
    assert!(last.1["error"]["type"].is_string());
}

#[tokio::test]
async fn unknown_route_is_an_anthropic_404() {
    let gw = harness::start().await;
    let r = gw.post("/v1/nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
    let _ = parse_sse("");
}

#[tokio::test]
async fn exception_before_any_content_is_an_http_429() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"contains": "busy"}, "reply": [{"exception": {"type": "ThrottlingException",
        "message": "Too many requests, please wait."}}]}))
        .await;
    let mut body = user("busy now?");
    body["stream"] = json!(true);
    let r = gw.post("/v1/messages").json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}
