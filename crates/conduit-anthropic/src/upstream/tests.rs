//! Table tests: Anthropic request → core → Messages JSON → core keeps every field; SSE events →
//! canonical events; error envelopes → kind and cause.

use conduit_core::{BlockDelta, BlockStart, ErrorKind, Event, FailoverCause, StopReason, Usage};
use serde_json::{json, Value};

use super::*;
use crate::{decode_request, RequestHeaders};

fn round_trip(body: Value) {
    let bytes = serde_json::to_vec(&body).unwrap();
    let first = decode_request(&bytes, &RequestHeaders::default()).unwrap();
    let encoded = encode_request(&first, &first.model);
    let again = decode_request(
        &serde_json::to_vec(&encoded).unwrap(),
        &RequestHeaders::default(),
    )
    .unwrap();
    assert_eq!(first, again, "encoded: {encoded:#}");
}

#[test]
fn requests_round_trip_through_the_core() {
    let cases = [
        json!({"model": "claude-opus-4-7", "max_tokens": 100,
               "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "m", "max_tokens": 2000, "system": "be brief",
               "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["X"], "stream": true,
               "metadata": {"user_id": "user_1_account_2_session_3"},
               "thinking": {"type": "enabled", "budget_tokens": 1024},
               "output_config": {"effort": "high"},
               "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}),
        json!({"model": "m", "max_tokens": 10, "thinking": {"type": "adaptive"},
               "system": [{"type": "text", "text": "s1"}, {"type": "text", "text": "s2"}],
               "tools": [{"name": "get", "description": "d", "input_schema": {"type": "object"}}],
               "tool_choice": {"type": "tool", "name": "get"},
               "messages": [
                 {"role": "user", "content": "q"},
                 {"role": "assistant", "content": [
                   {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                   {"type": "redacted_thinking", "data": "opaque"},
                   {"type": "tool_use", "id": "t1", "name": "get", "input": {"a": 1}}]},
                 {"role": "user", "content": [
                   {"type": "tool_result", "tool_use_id": "t1", "is_error": true,
                    "content": [{"type": "text", "text": "no"},
                                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                   {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}}]}]}),
        json!({"model": "m", "max_tokens": 10, "tools": [{"name": "a", "input_schema": {}}],
               "tool_choice": {"type": "any"},
               "messages": [{"role": "user", "content": "x"}]}),
    ];
    for case in cases {
        round_trip(case);
    }
}

#[test]
fn encoding_fills_what_anthropic_requires() {
    let mut req = conduit_core::Request {
        model: "gpt-ish".into(),
        messages: vec![
            conduit_core::Message::user_text("a"),
            conduit_core::Message {
                role: conduit_core::Role::Assistant,
                content: vec![conduit_core::Block::Thinking {
                    text: "unsigned".into(),
                    signature: None,
                }],
            },
        ],
        ..Default::default()
    };
    let body = encode_request(&req, "upstream-id");
    assert_eq!(body["model"], "upstream-id");
    assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
    // The unsigned thinking block goes, and with it the empty assistant turn.
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    assert!(body.get("stream").is_none());
    req.thinking = conduit_core::Thinking::Enabled {
        budget_tokens: 40_000,
    };
    assert_eq!(encode_request(&req, "x")["max_tokens"], 48_192);
}

fn decode(events: &[Value]) -> Vec<Result<Event, conduit_core::Error>> {
    let mut d = EventDecoder::new("msg_gw", "claude-client");
    let mut out = Vec::new();
    for e in events {
        let name = e["type"].as_str().unwrap().to_owned();
        out.extend(d.feed(&name, &serde_json::to_vec(e).unwrap()));
    }
    if let Some(e) = d.finish() {
        out.push(Err(e));
    }
    out
}

#[test]
fn a_stream_with_thinking_tools_and_cache_usage() {
    let out = decode(&[
        json!({"type": "message_start", "message": {"id": "msg_up", "model": "up", "usage":
            {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30, "output_tokens": 1}}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "SIG"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "get", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}}),
        json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 10}}),
    ]);
    let out: Vec<Event> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        out,
        vec![
            Event::MessageStart {
                id: "msg_gw".into(),
                model: "claude-client".into(),
                input_tokens: 10
            },
            Event::Ping,
            Event::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            },
            Event::BlockDelta {
                index: 0,
                delta: BlockDelta::Thinking("hm".into())
            },
            Event::BlockDelta {
                index: 0,
                delta: BlockDelta::ThinkingSignature("SIG".into())
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockStart::ToolUse {
                    id: "t".into(),
                    name: "get".into()
                }
            },
            Event::BlockDelta {
                index: 1,
                delta: BlockDelta::InputJson("{\"a\":".into())
            },
            Event::BlockDelta {
                index: 1,
                delta: BlockDelta::InputJson("1}".into())
            },
            Event::BlockStop { index: 1 },
            Event::MessageEnd {
                stop_reason: StopReason::ToolUse,
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 42,
                    cache_read_input_tokens: 30,
                    cache_creation_input_tokens: 20,
                    ..Default::default()
                },
            },
        ]
    );
}

fn split(m5: u32, h1: u32) -> Option<conduit_core::CacheCreation> {
    Some(conduit_core::CacheCreation {
        ephemeral_5m_input_tokens: m5,
        ephemeral_1h_input_tokens: h1,
    })
}

/// `message_delta` usage is cumulative: each field takes its last reported value (the TTL
/// split field by field), nothing is summed, and a field no event reports stays as it was.
#[test]
fn stream_usage_is_the_last_value_of_each_field() {
    let start = json!({"input_tokens": 10, "cache_creation_input_tokens": 1500,
        "cache_read_input_tokens": 4000, "output_tokens": 1,
        "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 1200}});
    let full = Usage {
        input_tokens: 10,
        output_tokens: 1,
        cache_read_input_tokens: 4000,
        cache_creation_input_tokens: 1500,
        cache_creation: split(300, 1200),
        ..Usage::default()
    };
    let cases: Vec<(&str, Value, Option<Value>, Usage)> = vec![
        (
            "delta carries only output_tokens",
            start.clone(),
            Some(json!({"output_tokens": 42})),
            Usage {
                output_tokens: 42,
                ..full
            },
        ),
        (
            "delta repeats every field (cumulative, as Anthropic sends it today)",
            start.clone(),
            Some(
                start
                    .clone()
                    .as_object()
                    .cloned()
                    .map(|mut o| {
                        o.insert("output_tokens".into(), json!(42));
                        Value::Object(o)
                    })
                    .unwrap(),
            ),
            Usage {
                output_tokens: 42,
                ..full
            },
        ),
        (
            "delta updates input, cache and split fields",
            start.clone(),
            Some(json!({"input_tokens": 12, "cache_read_input_tokens": 4100,
                "cache_creation_input_tokens": 1600, "output_tokens": 42,
                "cache_creation": {"ephemeral_1h_input_tokens": 1300}})),
            Usage {
                input_tokens: 12,
                output_tokens: 42,
                cache_read_input_tokens: 4100,
                cache_creation_input_tokens: 1600,
                cache_creation: split(300, 1300),
                ..Usage::default()
            },
        ),
        (
            "split reported only in message_delta",
            json!({"input_tokens": 10, "cache_creation_input_tokens": 1500, "output_tokens": 1}),
            Some(
                json!({"output_tokens": 5, "cache_creation_input_tokens": 1500,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500}}),
            ),
            Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_creation_input_tokens: 1500,
                cache_creation: split(0, 1500),
                ..Usage::default()
            },
        ),
        (
            "no split anywhere, null usage in the delta",
            json!({"input_tokens": 3, "cache_creation_input_tokens": 7, "cache_creation": null}),
            Some(Value::Null),
            Usage {
                input_tokens: 3,
                cache_creation_input_tokens: 7,
                ..Usage::default()
            },
        ),
    ];
    for (name, start_usage, delta_usage, want) in cases {
        let mut delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}});
        if let Some(u) = delta_usage {
            delta["usage"] = u;
        }
        let out = decode(&[
            json!({"type": "message_start", "message": {"usage": start_usage}}),
            delta,
            json!({"type": "message_stop"}),
        ]);
        let end = out.last().unwrap().as_ref().unwrap();
        assert_eq!(
            end,
            &Event::MessageEnd {
                stop_reason: StopReason::EndTurn,
                usage: want
            },
            "{name}"
        );
    }
}

#[test]
fn non_streamed_body_usage() {
    let cases = [
        (
            json!({"type": "message", "usage": {"input_tokens": 5, "cache_creation_input_tokens": 20,
                "cache_read_input_tokens": 30, "output_tokens": 9,
                "cache_creation": {"ephemeral_5m_input_tokens": 8, "ephemeral_1h_input_tokens": 12}}}),
            Some(Usage {
                input_tokens: 5,
                output_tokens: 9,
                cache_read_input_tokens: 30,
                cache_creation_input_tokens: 20,
                cache_creation: split(8, 12),
                ..Usage::default()
            }),
        ),
        (
            json!({"type": "message", "usage": {"input_tokens": 5, "output_tokens": 9}}),
            Some(Usage {
                input_tokens: 5,
                output_tokens: 9,
                ..Usage::default()
            }),
        ),
        (json!({"type": "message"}), None),
        (json!({"type": "message", "usage": {}}), None),
        (json!({"type": "message", "usage": "x"}), None),
    ];
    for (body, want) in cases {
        assert_eq!(body_usage(&body), want, "{body}");
    }
}

#[test]
fn stream_errors() {
    let cut =
        decode(&[json!({"type": "message_start", "message": {"usage": {"input_tokens": 1}}})]);
    let e = cut.last().unwrap().as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamProtocol);

    let overloaded = decode(&[
        json!({"type": "message_start", "message": {}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]);
    let e = overloaded.last().unwrap().as_ref().unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (ErrorKind::Overloaded, Some(FailoverCause::ServerError))
    );
    assert_eq!(overloaded.len(), 2, "nothing after the error");

    let early = decode(&[json!({"type": "content_block_stop", "index": 0})]);
    assert!(early[0].is_err());
}

#[test]
fn error_envelopes_are_classified_and_kept_raw() {
    let env =
        |t: &str, m: &str| json!({"type": "error", "error": {"type": t, "message": m}}).to_string();
    let cases: &[(u16, String, ErrorKind, Option<FailoverCause>)] = &[
        (
            429,
            env("rate_limit_error", "slow down"),
            ErrorKind::RateLimited,
            Some(FailoverCause::Throttled),
        ),
        (
            529,
            env("overloaded_error", "Overloaded"),
            ErrorKind::Overloaded,
            Some(FailoverCause::ServerError),
        ),
        (
            500,
            env("api_error", "boom"),
            ErrorKind::Overloaded,
            Some(FailoverCause::ServerError),
        ),
        (
            502,
            "<html>bad gateway</html>".into(),
            ErrorKind::Overloaded,
            Some(FailoverCause::ServerError),
        ),
        (
            504,
            String::new(),
            ErrorKind::Timeout,
            Some(FailoverCause::Timeout),
        ),
        (
            401,
            env("authentication_error", "invalid x-api-key"),
            ErrorKind::Credentials,
            Some(FailoverCause::Credentials),
        ),
        (
            403,
            env("permission_error", "no"),
            ErrorKind::Credentials,
            Some(FailoverCause::Credentials),
        ),
        (
            404,
            env("not_found_error", "model: x"),
            ErrorKind::NotFound,
            Some(FailoverCause::ModelUnavailable),
        ),
        (
            413,
            env("request_too_large", "big"),
            ErrorKind::RequestTooLarge,
            None,
        ),
        (
            400,
            env("invalid_request_error", "invalid beta flag"),
            ErrorKind::InvalidRequest,
            None,
        ),
        (
            400,
            env(
                "invalid_request_error",
                "prompt is too long: 210000 tokens > 200000 maximum",
            ),
            ErrorKind::ContextOverflow {
                tokens: 210_000,
                max: 200_000,
            },
            None,
        ),
    ];
    for (status, body, kind, cause) in cases {
        let e = error_from_body(*status, body.as_bytes());
        assert_eq!((&e.kind, e.cause), (kind, *cause), "{status} {body}");
        let raw = e.raw.as_ref().unwrap();
        assert_eq!(
            (raw.dialect, raw.status, &raw.body[..]),
            ("anthropic", *status, body.as_bytes())
        );
        assert!(!e.message.is_empty());
    }
    assert_eq!(
        error_from_body(
            401,
            env("authentication_error", "invalid x-api-key").as_bytes()
        )
        .message,
        "invalid x-api-key"
    );
}
