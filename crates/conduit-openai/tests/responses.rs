//! Responses: fixture bodies → canonical requests, canonical streams → lifecycle SSE, the
//! response object, and `previous_response_id` through the store.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on a broken fixture, as tests do"
)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use common::{fixture, render, scenarios, Item};
use conduit_core::{Block, Request, Response, Role, StopReason, ToolResultContent, Usage};
use conduit_openai::responses::{self, Context, ResponseStore, ResponsesSseEncoder};
use serde_json::{json, Value};

/// Decode `responses/<name>.json` with an empty store; snapshot the canonical request.
fn check(name: &str) -> (Request, Context) {
    let body = fixture(&format!("responses/{name}.json"));
    let result = responses::decode_request(&body, &ResponseStore::default());
    let rendered = render(result.as_ref().map(|(r, _)| r).map_err(Clone::clone));
    let Ok(decoded) = result else {
        panic!("{name}: {rendered}")
    };
    insta::assert_snapshot!(format!("request_{name}"), rendered);
    decoded
}

#[test]
fn codex_request() {
    let (request, ctx) = check("codex");
    let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["exec_command", "write_stdin"],
        "non-function tools dropped"
    );
    assert!(!ctx.store);
    assert!(ctx.response_id.starts_with("resp_"));
    assert!(!ctx.echo.parallel_tool_calls);
}

#[test]
fn string_input_with_instructions_and_format() {
    check("string_input");
}

#[test]
fn items_images_and_tool_outputs() {
    let (_, ctx) = check("items_and_images");
    assert!(ctx.store);
    assert_eq!(
        ctx.conversation.system,
        ["Be precise.", "Keep answers short."]
    );
}

#[test]
fn reasoning_effort_levels() {
    for &(level, thinking, effort) in common::EFFORT_LEVELS {
        let mut body = json!({"model": "gpt-5-codex", "input": "hi"});
        if let Some(level) = level {
            body["reasoning"] = json!({"effort": level});
        }
        let (request, ctx) = responses::decode_request(
            &serde_json::to_vec(&body).unwrap(),
            &ResponseStore::default(),
        )
        .unwrap();
        common::check_effort(&request, level, thinking, effort);
        // The response echoes the level as the client sent it.
        assert_eq!(ctx.echo.reasoning_effort.as_deref(), level);
    }
}

#[test]
fn invalid_requests() {
    let cases: &[(&str, &str)] = &[
        ("empty body", ""),
        ("array body", "[]"),
        ("missing model", r#"{"input":"hi"}"#),
        ("missing input", r#"{"model":"m"}"#),
        ("empty input", r#"{"model":"m","input":[]}"#),
        (
            "only developer input",
            r#"{"model":"m","input":[{"role":"developer","content":"x"}]}"#,
        ),
        (
            "unknown previous response",
            r#"{"model":"m","previous_response_id":"resp_nope","input":"hi"}"#,
        ),
        (
            "background",
            r#"{"model":"m","background":true,"input":"hi"}"#,
        ),
        (
            "conversation",
            r#"{"model":"m","conversation":"conv_1","input":"hi"}"#,
        ),
        (
            "message without role",
            r#"{"model":"m","input":[{"type":"message","content":"hi"}]}"#,
        ),
        (
            "unknown role",
            r#"{"model":"m","input":[{"role":"critic","content":"hi"}]}"#,
        ),
        (
            "http image",
            r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://example.com/a.png"}]}]}"#,
        ),
        (
            "file image",
            r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}"#,
        ),
        (
            "input_file part",
            r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_data":"JVBERi0="}]}]}"#,
        ),
        (
            "function_call without call_id",
            r#"{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}"#,
        ),
        (
            "unparsable arguments",
            r#"{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{oops"}]}"#,
        ),
        (
            "output without output",
            r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}"#,
        ),
        (
            "item_reference",
            r#"{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}"#,
        ),
        (
            "function tool without name",
            r#"{"model":"m","input":"hi","tools":[{"type":"function","parameters":{}}]}"#,
        ),
        (
            "unknown tool_choice",
            r#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":"maybe"}"#,
        ),
        (
            "unknown text format",
            r#"{"model":"m","input":"hi","text":{"format":{"type":"yaml"}}}"#,
        ),
    ];
    let store = ResponseStore::default();
    let mut table = String::new();
    for (name, body) in cases {
        let result = responses::decode_request(body.as_bytes(), &store).map(|(r, _)| r);
        assert!(result.is_err(), "{name}: accepted");
        writeln!(table, "{name}\n  {}", render(result)).unwrap();
    }
    insta::assert_snapshot!("invalid_requests", table);
}

/// A context with a fixed id and time, from a small request.
fn context(body: Value, store: &ResponseStore) -> Context {
    let (_, mut ctx) =
        responses::decode_request(&serde_json::to_vec(&body).unwrap(), store).unwrap();
    ctx.response_id = "resp_0001".into();
    ctx.created_at = 1_750_000_000;
    ctx
}

fn simple_context(store: &ResponseStore) -> Context {
    context(
        json!({
            "model": "gpt-5-codex", "input": "hi", "stream": true,
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "reasoning": {"effort": "medium"},
        }),
        store,
    )
}

/// Encode a canonical stream, check the framing (`event:` equals `type`, sequence numbers count
/// from 0, a terminal event last), and return the SSE text.
fn encode(name: &str, ctx: Context, store: Arc<ResponseStore>, items: &[Item]) -> String {
    let mut enc = ResponsesSseEncoder::new(ctx, store);
    let mut sse = String::new();
    for item in items {
        let bytes = match item {
            Item::Ev(ev) => enc.encode(ev),
            Item::Err(e) => enc.error(e),
        };
        sse.push_str(std::str::from_utf8(&bytes).unwrap());
    }
    assert!(enc.done().is_empty());
    let mut seq = 0;
    let mut last = String::new();
    for frame in sse.split_terminator("\n\n") {
        if frame == ": ping" {
            continue;
        }
        let (event, data) = frame
            .strip_prefix("event: ")
            .and_then(|f| f.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("{name}: malformed SSE frame {frame:?}"));
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], event, "{name}: event name and type differ");
        assert_eq!(data["sequence_number"], seq, "{name}: sequence");
        seq += 1;
        last = event.to_owned();
    }
    assert!(
        last == "response.completed" || last == "response.failed",
        "{name}: ends with {last}"
    );
    sse
}

#[test]
fn sse_scenarios() {
    for (name, items) in scenarios() {
        let store = Arc::new(ResponseStore::default());
        let sse = encode(name, simple_context(&store), Arc::clone(&store), &items);
        insta::assert_snapshot!(format!("sse_{name}"), sse);
    }
}

/// The `response.completed` object of a stream.
fn completed(sse: &str) -> Value {
    let frame = sse
        .split_terminator("\n\n")
        .find(|f| f.starts_with("event: response.completed"))
        .unwrap();
    let data: Value = serde_json::from_str(frame.split_once("\ndata: ").unwrap().1).unwrap();
    data["response"].clone()
}

fn weather_turn() -> Vec<Item> {
    scenarios()
        .into_iter()
        .find(|(n, _)| *n == "parallel_tool_calls")
        .unwrap()
        .1
}

/// Turn 1 streams text and two tool calls and is stored; turn 2 names it and sends only the
/// tool outputs; the canonical request is the whole conversation.
#[test]
fn previous_response_id_round_trip() {
    let store = Arc::new(ResponseStore::default());
    let ctx = context(
        json!({"model": "m", "instructions": "Be brief.",
               "input": [{"role": "developer", "content": "Use metric units."},
                         {"role": "user", "content": "Weather in Paris and Tokyo?"}]}),
        &store,
    );
    let sse = encode("turn1", ctx, Arc::clone(&store), &weather_turn());
    let response = completed(&sse);
    assert_eq!(response["id"], "resp_0001");
    assert_eq!(response["output"][1]["call_id"], "toolu_01");
    assert_eq!(store.len(), 1);

    let turn2 = json!({
        "model": "m",
        "previous_response_id": "resp_0001",
        "instructions": "Be very brief.",
        "input": [
            {"type": "function_call_output", "call_id": "toolu_01", "output": "18°C"},
            {"type": "function_call_output", "call_id": "toolu_02", "output": "25°C"},
        ],
    });
    let (request, ctx2) =
        responses::decode_request(&serde_json::to_vec(&turn2).unwrap(), &store).unwrap();
    assert_eq!(ctx2.previous_response_id.as_deref(), Some("resp_0001"));
    insta::assert_snapshot!("request_previous_response", render(Ok(request)));

    // Not stored with `store: false`.
    let mut ctx3 = context(json!({"model": "m", "input": "x", "store": false}), &store);
    ctx3.response_id = "resp_0003".into();
    encode("unstored", ctx3, Arc::clone(&store), &weather_turn());
    assert!(store.get("resp_0003").is_none());
    assert_eq!(store.len(), 1);
}

fn sample_response() -> Response {
    Response {
        id: "msg_01".into(),
        model: "claude-opus-5-5".into(),
        content: vec![
            Block::Thinking {
                text: "Plan: run ls.".into(),
                signature: Some("sig".into()),
            },
            Block::Text("Listing files.".into()),
            Block::ToolUse {
                id: "toolu_1".into(),
                name: "exec_command".into(),
                input: json!({"cmd": "ls"}),
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

/// The non-streaming body is the same object `response.completed` carries, and it is stored.
#[test]
fn non_streaming_response_and_store() {
    let store = ResponseStore::default();
    let ctx = simple_context(&store);
    let body: Value =
        serde_json::from_slice(&responses::response_body(&sample_response(), &ctx, &store))
            .unwrap();
    insta::assert_json_snapshot!("response_body", body);
    let stored = store.get("resp_0001").unwrap();
    let last = stored.messages.last().unwrap();
    assert_eq!(last.role, Role::Assistant);
    assert_eq!(last.content, sample_response().content);

    let truncated = Response {
        stop_reason: StopReason::MaxTokens,
        ..sample_response()
    };
    let body: Value =
        serde_json::from_slice(&responses::response_body(&truncated, &ctx, &store)).unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
}

/// What we answer, Codex sends back as input items (store: false); they decode to the same
/// blocks, except reasoning, which is ignored on input.
#[test]
fn output_items_round_trip_as_input() {
    let store = ResponseStore::default();
    let ctx = simple_context(&store);
    let body: Value =
        serde_json::from_slice(&responses::response_body(&sample_response(), &ctx, &store))
            .unwrap();
    let mut input = vec![json!({"role": "user", "content": "go"})];
    input.extend(body["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": "toolu_1", "output": "a b"}));
    let next = json!({"model": "m", "input": input, "store": false});
    let (request, _) =
        responses::decode_request(&serde_json::to_vec(&next).unwrap(), &store).unwrap();
    assert_eq!(request.messages[1].content, sample_response().content[1..]);
    assert_eq!(
        request.messages[2].content,
        [Block::ToolResult {
            tool_use_id: "toolu_1".into(),
            content: vec![ToolResultContent::Text("a b".into())],
            is_error: false,
        }]
    );
}

/// The gateway moves encoders into a spawned body stream and shares the store across requests.
#[test]
fn encoders_and_store_can_cross_threads() {
    fn send<T: Send + 'static>() {}
    fn sync<T: Send + Sync + 'static>() {}
    send::<ResponsesSseEncoder>();
    send::<conduit_openai::chat::ChatSseEncoder>();
    sync::<ResponseStore>();
}
