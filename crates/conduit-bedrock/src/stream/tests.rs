//! Frames in, events out; any split of the same bytes gives the same events.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn chunk(event: &Value) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(event).unwrap());
    let payload = json!({"bytes": b64, "p": "abcdefgh"}).to_string();
    Frame::new(
        [
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        Bytes::from(payload),
    )
    .encode()
    .unwrap()
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    Frame::new(
        [
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        Bytes::from(json!({ "message": message }).to_string()),
    )
    .encode()
    .unwrap()
}

fn body() -> Vec<u8> {
    [
        json!({"type": "message_start", "message": {"id": "msg_b", "type": "message", "role": "assistant",
               "model": "claude-opus-4-7", "content": [], "usage": {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 9}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
        json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 5}}),
    ]
    .iter()
    .flat_map(chunk)
    .collect()
}

fn decode_in(parts: &[&[u8]]) -> Vec<Result<RawEvent, Error>> {
    let mut d = StreamDecoder::new("claude-opus-4-7[1m]", "bedrock-us", "AWS credentials");
    let mut out: Vec<_> = parts.iter().flat_map(|p| d.push(p)).collect();
    out.extend(d.finish().map(Err));
    out
}

#[test]
fn chunks_become_client_events() {
    let bytes = body();
    let events: Vec<RawEvent> = decode_in(&[&bytes])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start: Value = serde_json::from_slice(&events[0].data).unwrap();
    assert_eq!(start["message"]["model"], "claude-opus-4-7[1m]");
    assert_eq!(
        start["message"]["usage"],
        json!({"input_tokens": 5, "output_tokens": 1,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 9})
    );
    let delta: Value = serde_json::from_slice(&events[4].data).unwrap();
    // message_delta repeats message_start's cache fields: clients take the last value.
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 9);
    assert_eq!(delta["usage"]["cache_creation_input_tokens"], 0);
    assert_eq!(&events[5].data[..], br#"{"type":"message_stop"}"#);
    // Untouched events keep the upstream's bytes.
    assert_eq!(
        &events[2].data[..],
        br#"{"delta":{"text":"hi","type":"text_delta"},"index":0,"type":"content_block_delta"}"#
    );
}

/// The TTL split reaches the client as Bedrock wrote it; a `message_delta` without one repeats
/// `message_start`'s, and one with its own keeps it.
#[test]
fn the_cache_write_split_is_carried_through() {
    let split = json!({"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 1200});
    let start = json!({"type": "message_start", "message": {"model": "m", "usage": {
        "input_tokens": 5, "output_tokens": 1, "cache_creation_input_tokens": 1500,
        "cache_read_input_tokens": 9, "cache_creation": split.clone()}}});
    let own = json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500});
    let cases = [
        (json!({"output_tokens": 3}), split.clone()),
        (
            json!({"output_tokens": 3, "input_tokens": 5, "cache_creation_input_tokens": 1500,
                   "cache_read_input_tokens": 9, "cache_creation": own.clone()}),
            own.clone(),
        ),
    ];
    for (delta_usage, want) in cases {
        let mut cache = CacheUsage::default();
        let s = rewrite(&serde_json::to_vec(&start).unwrap(), "m", &mut cache).unwrap();
        let s: Value = serde_json::from_slice(&s.data).unwrap();
        assert_eq!(s["message"]["usage"]["cache_creation"], split);
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": delta_usage});
        let d = rewrite(&serde_json::to_vec(&delta).unwrap(), "m", &mut cache).unwrap();
        let d: Value = serde_json::from_slice(&d.data).unwrap();
        assert_eq!(d["usage"]["cache_creation"], want, "{delta_usage}");
        assert_eq!(d["usage"]["cache_creation_input_tokens"], 1500);
    }
    // Without a split upstream, none is invented.
    let mut cache = CacheUsage::default();
    let bytes = body();
    for ev in decode_in(&[&bytes]) {
        let ev: Value = serde_json::from_slice(&ev.unwrap().data).unwrap();
        assert!(ev["usage"].get("cache_creation").is_none());
        assert!(ev["message"]["usage"].get("cache_creation").is_none());
    }
    let _ = rewrite(
        br#"{"type":"message_start","message":{"usage":{}}}"#,
        "m",
        &mut cache,
    );
    assert_eq!(cache.split, None);
}

#[test]
fn in_band_exception_ends_the_stream_typed() {
    let mut bytes = chunk(&json!({"type": "message_start", "message": {"usage": {}}}));
    bytes.extend(exception("throttlingException", "Too many requests"));
    bytes.extend(chunk(&json!({"type": "message_stop"})));
    let out = decode_in(&[&bytes]);
    assert_eq!(out.len(), 2);
    let e = out[1].as_ref().unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.cause),
        (
            conduit_core::ErrorKind::RateLimited,
            Some(conduit_core::FailoverCause::Throttled)
        )
    );
    assert!(e.message.contains("bedrock-us") && e.message.contains("Too many requests"));
}

#[test]
fn a_cut_body_is_an_error() {
    let bytes = body();
    let out = decode_in(&[&bytes[..bytes.len() - 3]]);
    assert!(out.last().unwrap().is_err());
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..2000, 0..8)) {
        let bytes = body();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut parts = Vec::new();
        let mut last = 0;
        for c in cuts {
            parts.push(&bytes[last..c]);
            last = c;
        }
        parts.push(&bytes[last..]);
        let whole: Vec<_> = decode_in(&[&bytes]).into_iter().map(Result::unwrap).collect();
        let split: Vec<_> = decode_in(&parts).into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(whole, split);
    }
}
