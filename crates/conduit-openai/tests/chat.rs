//! Chat Completions: fixture bodies → canonical requests, canonical streams → chunk SSE,
//! responses → `chat.completion` bodies.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on a broken fixture, as tests do"
)]

mod common;

use std::fmt::Write as _;

use common::{fixture, render, scenarios, Item};
use conduit_core::{Block, Response, StopReason, Usage};
use conduit_openai::chat::{self, ChatSseEncoder};
use serde_json::{json, Value};

/// Decode `chat/<name>.json` and snapshot the canonical request.
fn check(name: &str) {
    let body = fixture(&format!("chat/{name}.json"));
    let result = chat::decode_request(&body);
    assert!(result.is_ok(), "{name}: {}", render(result));
    insta::assert_snapshot!(format!("request_{name}"), render(result));
}

#[test]
fn minimal_stream_request() {
    check("minimal_stream");
    assert!(chat::include_usage(&fixture("chat/minimal_stream.json")));
    assert!(!chat::include_usage(&fixture(
        "chat/tools_and_results.json"
    )));
    assert!(!chat::include_usage(b"not json"));
}

#[test]
fn tools_parallel_calls_and_tool_results() {
    check("tools_and_results");
}

#[test]
fn reasoning_effort_and_tolerated_options() {
    check("reasoning_and_options");
}

#[test]
fn reasoning_effort_levels() {
    for &(level, thinking, effort) in common::EFFORT_LEVELS {
        let mut body = json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});
        if let Some(level) = level {
            body["reasoning_effort"] = json!(level);
        }
        let request = chat::decode_request(&serde_json::to_vec(&body).unwrap()).unwrap();
        common::check_effort(&request, level, thinking, effort);
    }
}

#[test]
fn named_tool_choice_and_json_object() {
    check("named_tool_choice");
}

/// Bodies that must be refused, each with the message the client gets.
#[test]
fn invalid_requests() {
    let cases: &[(&str, &str)] = &[
        ("empty body", ""),
        ("malformed json", r#"{"model": "gpt", "#),
        ("not an object", "[1]"),
        (
            "missing model",
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        ("missing messages", r#"{"model":"m"}"#),
        ("empty messages", r#"{"model":"m","messages":[]}"#),
        (
            "only system",
            r#"{"model":"m","messages":[{"role":"system","content":"x"}]}"#,
        ),
        (
            "unknown role",
            r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
        ),
        (
            "function role",
            r#"{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}"#,
        ),
        (
            "n above one",
            r#"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "logprobs",
            r#"{"model":"m","logprobs":true,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "audio output",
            r#"{"model":"m","modalities":["text","audio"],"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "legacy functions",
            r#"{"model":"m","functions":[{"name":"f"}],"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            "http image url",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}"#,
        ),
        (
            "non-base64 data url",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}"#,
        ),
        (
            "tiff image",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA=="}}]}]}"#,
        ),
        (
            "audio part",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]}"#,
        ),
        (
            "text part without text",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
        ),
        (
            "unparsable arguments",
            r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"x\":"}}]}]}"#,
        ),
        (
            "array arguments",
            r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}"#,
        ),
        (
            "tool message without id",
            r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]}"#,
        ),
        (
            "image in system",
            r#"{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"user","content":"a"}]}"#,
        ),
        (
            "function tool without function",
            r#"{"model":"m","tools":[{"type":"function"}],"messages":[{"role":"user","content":"a"}]}"#,
        ),
        (
            "unknown tool_choice",
            r#"{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes","messages":[{"role":"user","content":"a"}]}"#,
        ),
        (
            "unknown response_format",
            r#"{"model":"m","response_format":{"type":"xml"},"messages":[{"role":"user","content":"a"}]}"#,
        ),
        (
            "json_schema without schema",
            r#"{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x"}},"messages":[{"role":"user","content":"a"}]}"#,
        ),
        (
            "max_tokens as string",
            r#"{"model":"m","max_tokens":"10","messages":[{"role":"user","content":"a"}]}"#,
        ),
    ];
    let mut table = String::new();
    for (name, body) in cases {
        let result = chat::decode_request(body.as_bytes());
        assert!(result.is_err(), "{name}: accepted");
        writeln!(table, "{name}\n  {}", render(result)).unwrap();
    }
    insta::assert_snapshot!("invalid_requests", table);
}

/// Encode a canonical stream (then `done()`), check every frame is a ping comment, `[DONE]` or
/// a JSON data line, and snapshot the SSE text.
fn check_sse(name: &str, include_usage: bool, items: &[Item]) {
    let mut enc = ChatSseEncoder::new(include_usage).with_created(1_750_000_000);
    let mut sse = String::new();
    for item in items {
        let bytes = match item {
            Item::Ev(ev) => enc.encode(ev),
            Item::Err(e) => enc.error(e),
        };
        sse.push_str(std::str::from_utf8(&bytes).unwrap());
    }
    sse.push_str(std::str::from_utf8(&enc.done()).unwrap());
    assert!(enc.done().is_empty(), "{name}: [DONE] twice");
    let frames: Vec<&str> = sse.split_terminator("\n\n").collect();
    assert_eq!(frames.last(), Some(&"data: [DONE]"), "{name}");
    for frame in &frames {
        if *frame == ": ping" || *frame == "data: [DONE]" {
            continue;
        }
        let data = frame
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("{name}: malformed frame {frame:?}"));
        let data: Value = serde_json::from_str(data).unwrap();
        assert!(
            data["object"] == "chat.completion.chunk" || data.get("error").is_some(),
            "{name}: {data}"
        );
    }
    insta::assert_snapshot!(format!("sse_{name}"), sse);
}

#[test]
fn sse_scenarios() {
    for (name, items) in scenarios() {
        check_sse(name, true, &items);
    }
}

#[test]
fn sse_without_usage_chunk() {
    let items = scenarios().into_iter().next().unwrap().1;
    check_sse("text_without_usage", false, &items);
}

fn sample_response() -> Response {
    Response {
        id: "msg_01".into(),
        model: "claude-opus-5-5".into(),
        content: vec![
            Block::Thinking {
                text: "Plan: look it up.".into(),
                signature: Some("sig".into()),
            },
            Block::Text("Looking up both.".into()),
            Block::ToolUse {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"}),
            },
            Block::ToolUse {
                id: "toolu_2".into(),
                name: "get_weather".into(),
                input: json!({"city": "Tokyo"}),
            },
        ],
        stop_reason: StopReason::ToolUse,
        usage: Usage {
            input_tokens: 900,
            output_tokens: 42,
            cache_read_input_tokens: 100,
            cache_creation_input_tokens: 0,
            ..Usage::default()
        },
    }
}

fn body_json(r: &Response) -> Value {
    let mut body: Value = serde_json::from_slice(&chat::response_body(r)).unwrap();
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    body["created"] = json!(0);
    body
}

#[test]
fn non_streaming_response() {
    insta::assert_json_snapshot!("response_body", body_json(&sample_response()));
    let text_only = Response {
        content: vec![Block::Text("Hi.".into())],
        stop_reason: StopReason::MaxTokens,
        ..sample_response()
    };
    let body = body_json(&text_only);
    assert_eq!(body["choices"][0]["message"]["content"], "Hi.");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert!(body["choices"][0]["message"].get("tool_calls").is_none());
}

/// What we answer, a client sends back as the assistant turn of its next request; it must decode
/// to the same canonical blocks (the thinking signature is not carried by this dialect).
#[test]
fn response_message_round_trips_through_decode() {
    let response = sample_response();
    let body = body_json(&response);
    let request = json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "go"},
            body["choices"][0]["message"],
        ],
    });
    let decoded = chat::decode_request(&serde_json::to_vec(&request).unwrap()).unwrap();
    let mut expected = response.content.clone();
    expected[0] = Block::Thinking {
        text: "Plan: look it up.".into(),
        signature: None,
    };
    assert_eq!(decoded.messages[1].content, expected);
}
