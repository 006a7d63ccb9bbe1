//! Encoding: canonical event sequences → Anthropic SSE, responses/errors/models → JSON bodies.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, like tests, fail loudly on broken fixtures"
)]

use std::fmt::Write as _;

use conduit_anthropic::{
    count_tokens_body, decode_request, error_body, models_body, response_body, RequestHeaders,
    SseEncoder,
};
use conduit_core::{
    Block, BlockDelta, BlockStart, Error, ErrorKind, Event, ModelInfo, Response, StopReason, Usage,
};
use serde_json::{json, Value};

/// What the stream carries: an event, or an error that ends it.
enum Item {
    Ev(Event),
    Err(Error),
}

/// Encode `items` in order, check each SSE event is well formed (`event:` name equals the JSON
/// `type`), and snapshot the SSE text.
fn check(name: &str, items: Vec<Item>) {
    let mut enc = SseEncoder::new();
    let mut sse = String::new();
    for item in &items {
        let bytes = match item {
            Item::Ev(ev) => enc.encode(ev),
            Item::Err(e) => enc.error(e),
        };
        sse.push_str(std::str::from_utf8(&bytes).unwrap());
    }
    for frame in sse.split_terminator("\n\n") {
        let (event, data) = frame
            .strip_prefix("event: ")
            .and_then(|f| f.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("{name}: malformed SSE frame {frame:?}"));
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], event, "{name}: event name and type differ");
    }
    insta::assert_snapshot!(name, sse);
}

fn start(input_tokens: u32) -> Item {
    Item::Ev(Event::MessageStart {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
        model: "claude-opus-5-5".into(),
        input_tokens,
    })
}

fn block(index: usize, block: BlockStart) -> Item {
    Item::Ev(Event::BlockStart { index, block })
}

fn delta(index: usize, delta: BlockDelta) -> Item {
    Item::Ev(Event::BlockDelta { index, delta })
}

fn stop(index: usize) -> Item {
    Item::Ev(Event::BlockStop { index })
}

fn end(stop_reason: StopReason, input_tokens: u32, output_tokens: u32) -> Item {
    Item::Ev(Event::MessageEnd {
        stop_reason,
        usage: Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        },
    })
}

#[test]
fn text_stream() {
    check(
        "sse_text",
        vec![
            start(25),
            Item::Ev(Event::Ping),
            block(0, BlockStart::Text),
            delta(0, BlockDelta::Text("Hello".into())),
            delta(0, BlockDelta::Text(", \"world\"\n".into())),
            stop(0),
            end(StopReason::EndTurn, 25, 4),
        ],
    );
}

#[test]
fn thinking_text_and_tool_use_stream() {
    check(
        "sse_thinking_text_tool_use",
        vec![
            start(1200),
            block(0, BlockStart::Thinking),
            delta(0, BlockDelta::Thinking("Let me think".into())),
            delta(0, BlockDelta::Thinking(" about it.".into())),
            delta(0, BlockDelta::ThinkingSignature("EqQBCkYIBxgC".into())),
            stop(0),
            block(1, BlockStart::Text),
            delta(1, BlockDelta::Text("Writing the file.".into())),
            stop(1),
            Item::Ev(Event::Ping),
            block(
                2,
                BlockStart::ToolUse {
                    id: "toolu_01".into(),
                    name: "Write".into(),
                },
            ),
            delta(2, BlockDelta::InputJson("{\"file_path\":".into())),
            delta(2, BlockDelta::InputJson("\"/tmp/a\"}".into())),
            stop(2),
            end(StopReason::ToolUse, 1200, 87),
        ],
    );
}

/// Native reasoning as Kiro gives it: a redacted block (its data in `content_block_start`, no
/// delta), then a thinking block whose one signature delta comes just before its stop.
#[test]
fn redacted_and_signed_thinking_stream() {
    check(
        "sse_redacted_and_signed_thinking",
        vec![
            start(300),
            block(
                0,
                BlockStart::RedactedThinking {
                    data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT".into(),
                },
            ),
            stop(0),
            block(1, BlockStart::Thinking),
            delta(1, BlockDelta::Thinking("The user wants a greeting.".into())),
            delta(
                1,
                BlockDelta::ThinkingSignature("EqQBCkYIBxgCKkDa1b2c3+/=".into()),
            ),
            stop(1),
            block(2, BlockStart::Text),
            delta(2, BlockDelta::Text("Hello!".into())),
            stop(2),
            end(StopReason::EndTurn, 300, 12),
        ],
    );
}

/// A sloppy upstream: no `BlockStop` before the next block or the end, usage without input
/// tokens, events after the end. The output still has Anthropic's shape.
#[test]
fn unclosed_blocks_are_closed_and_nothing_follows_the_end() {
    check(
        "sse_repaired",
        vec![
            start(10),
            block(0, BlockStart::Text),
            delta(0, BlockDelta::Text("a".into())),
            block(1, BlockStart::Text),
            delta(1, BlockDelta::Text("b".into())),
            end(StopReason::MaxTokens, 0, 2),
            Item::Ev(Event::Ping),
            end(StopReason::EndTurn, 0, 2),
            Item::Err(Error::internal("late")),
        ],
    );
}

#[test]
fn mid_stream_error_ends_the_stream() {
    check(
        "sse_mid_stream_error",
        vec![
            start(10),
            block(0, BlockStart::Text),
            delta(0, BlockDelta::Text("partial".into())),
            Item::Err(Error::new(
                ErrorKind::Overloaded,
                "Kiro is overloaded; retry in a few seconds",
            )),
            stop(0),
            end(StopReason::EndTurn, 10, 1),
        ],
    );
}

/// Every error kind: HTTP status and body, and the same error as a mid-stream SSE event.
#[test]
fn error_kinds() {
    let errors = [
        Error::invalid_request("messages: Field required"),
        Error::context_overflow(210_345, 200_000),
        Error::new(
            ErrorKind::Authentication,
            "invalid x-api-key: check ANTHROPIC_API_KEY",
        ),
        Error::new(
            ErrorKind::PermissionDenied,
            "Origin https://evil.example is not allowed",
        ),
        Error::new(ErrorKind::NotFound, "no route for GET /v1/nope"),
        Error::new(ErrorKind::RequestTooLarge, "request body exceeds 32 MiB"),
        Error::new(
            ErrorKind::Credentials,
            "no Kiro credentials: run `conduit login`",
        ),
        Error::new(
            ErrorKind::RateLimited,
            "Kiro rate limit reached; retry later",
        ),
        Error::new(ErrorKind::Overloaded, "Kiro is overloaded"),
        Error::new(ErrorKind::Timeout, "Kiro did not answer within 300 s"),
        Error::new(ErrorKind::UpstreamProtocol, "the upstream stream was cut"),
        Error::new(
            ErrorKind::IncompleteTurn,
            "the upstream ended its turn after a tool result with reasoning only",
        ),
        Error::internal("a gateway bug"),
    ];
    let mut table = String::new();
    for e in &errors {
        let (status, body) = error_body(e);
        let sse = SseEncoder::new().error(e);
        let body = String::from_utf8(body).unwrap();
        let sse = std::str::from_utf8(&sse).unwrap();
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["error"]["message"], e.message.as_str());
        assert_eq!(sse, format!("event: error\ndata: {body}\n\n"));
        writeln!(table, "{:?}\n  {status} {body}", e.kind).unwrap();
    }
    insta::assert_snapshot!("error_kinds", table);
}

#[test]
fn context_overflow_reads_like_anthropic() {
    let (status, body) = error_body(&Error::context_overflow(210_345, 200_000));
    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"type":"error","error":{"type":"invalid_request_error",
            "message":"prompt is too long: 210345 tokens > 200000 maximum"}})
    );
}

fn sample_response() -> Response {
    Response {
        id: "msg_01".into(),
        model: "claude-opus-5-5".into(),
        content: vec![
            Block::Thinking {
                text: "Plan: write it.".into(),
                signature: Some("sig".into()),
            },
            Block::Thinking {
                text: "unsigned".into(),
                signature: None,
            },
            Block::RedactedThinking {
                data: "EmwKAhgBEgy3va3pzix".into(),
            },
            Block::Text("Done.".into()),
            Block::ToolUse {
                id: "toolu_9".into(),
                name: "Bash".into(),
                input: json!({"command": "ls -la", "timeout": 1000}),
            },
        ],
        stop_reason: StopReason::ToolUse,
        usage: Usage {
            input_tokens: 900,
            output_tokens: 42,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
            ..Usage::default()
        },
    }
}

#[test]
fn non_streaming_response() {
    let body = String::from_utf8(response_body(&sample_response())).unwrap();
    insta::assert_snapshot!("response_body", body);
}

/// What we send back as an assistant message, a client sends back in the next request; it must
/// decode to the same canonical blocks (unsigned thinking stays unsigned).
#[test]
fn response_content_round_trips_through_decode() {
    let response = sample_response();
    let body: Value = serde_json::from_slice(&response_body(&response)).unwrap();
    let request = json!({
        "model": "m", "max_tokens": 1,
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": body["content"]},
        ],
    });
    let decoded = decode_request(
        &serde_json::to_vec(&request).unwrap(),
        &RequestHeaders::default(),
    )
    .unwrap();
    assert_eq!(decoded.messages[1].content, response.content);
}

#[test]
fn count_tokens() {
    assert_eq!(count_tokens_body(1234), br#"{"input_tokens":1234}"#);
}

#[test]
fn models_list() {
    let models = [
        ModelInfo {
            id: "claude-sonnet-4-5".into(),
            display_name: "Claude Sonnet 4.5".into(),
            context_window: 200_000,
            max_output_tokens: 64_000,
        },
        ModelInfo {
            id: "claude-haiku-4-5".into(),
            display_name: "Claude Haiku 4.5".into(),
            context_window: 200_000,
            max_output_tokens: 8_192,
        },
    ];
    let body = String::from_utf8(models_body(&models)).unwrap();
    insta::assert_snapshot!("models", body);
    let empty: Value = serde_json::from_slice(&models_body(&[])).unwrap();
    assert_eq!(
        empty,
        json!({"data": [], "has_more": false, "first_id": null, "last_id": null})
    );
}

/// The TTL split is written in Anthropic's shape wherever usage is, and only when reported.
#[test]
fn usage_carries_the_cache_write_split_when_reported() {
    let split = conduit_core::CacheCreation {
        ephemeral_5m_input_tokens: 300,
        ephemeral_1h_input_tokens: 1200,
    };
    let usage = Usage {
        input_tokens: 12,
        output_tokens: 42,
        cache_read_input_tokens: 4000,
        cache_creation_input_tokens: 1500,
        cache_creation: Some(split),
        ..Usage::default()
    };
    let cases = [
        (
            Some(split),
            json!({"input_tokens": 12, "cache_creation_input_tokens": 1500,
                   "cache_read_input_tokens": 4000,
                   "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 1200},
                   "output_tokens": 42}),
        ),
        (
            None,
            json!({"input_tokens": 12, "cache_creation_input_tokens": 1500,
                   "cache_read_input_tokens": 4000, "output_tokens": 42}),
        ),
    ];
    for (cache_creation, want) in cases {
        let usage = Usage {
            cache_creation,
            ..usage
        };
        let response = Response {
            usage,
            ..sample_response()
        };
        let body: Value = serde_json::from_slice(&response_body(&response)).unwrap();
        assert_eq!(body["usage"], want, "non-streamed, {cache_creation:?}");

        let mut enc = SseEncoder::new();
        let _ = enc.encode(&Event::MessageStart {
            id: "msg_1".into(),
            model: "m".into(),
            input_tokens: 12,
        });
        let sse = enc.encode(&Event::MessageEnd {
            stop_reason: StopReason::EndTurn,
            usage,
        });
        let sse = std::str::from_utf8(&sse).unwrap();
        let data = sse
            .split_terminator("\n\n")
            .find_map(|f| f.strip_prefix("event: message_delta\ndata: "))
            .unwrap();
        let delta: Value = serde_json::from_str(data).unwrap();
        assert_eq!(delta["usage"], want, "message_delta, {cache_creation:?}");
    }
}
