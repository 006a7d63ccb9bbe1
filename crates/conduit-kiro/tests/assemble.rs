//! Assembler fixtures: Kiro event-stream frames in (`fixtures/assemble/*.json`), canonical events
//! out as insta snapshots. The frames are really encoded and decoded, optionally in small chunks.
//!
//! A fixture: `{"options": {...}?, "frames": [{"event": type, "payload": {...}} |
//! {"exception": type, "payload": {...}}], "chunk_size": n?, "truncate_bytes": n?,
//! "body_error": "text"?}`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::collections::HashMap;
use std::path::Path;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use conduit_core::Error;
use conduit_kiro::assemble::{events_from_body, AssembleOptions, Assembler};
use futures::StreamExt;
use serde_json::{json, Value};

fn frame(f: &Value) -> Vec<u8> {
    let (kind_header, kind, message_type) = match (f.get("event"), f.get("exception")) {
        (Some(e), _) => (":event-type", e, "event"),
        (None, Some(e)) => (":exception-type", e, "exception"),
        _ => panic!("frame needs `event` or `exception`: {f}"),
    };
    let string = |s: &str| HeaderValue::String(s.to_string().into());
    let message = Message::new_from_parts(
        vec![
            Header::new(kind_header, string(kind.as_str().unwrap())),
            Header::new(":content-type", string("application/json")),
            Header::new(":message-type", string(message_type)),
        ],
        f["payload"].to_string().into_bytes(),
    );
    let mut out = Vec::new();
    write_message_to(&message, &mut out).unwrap();
    out
}

fn options(o: Option<&Value>) -> AssembleOptions {
    let o = o.cloned().unwrap_or(json!({}));
    AssembleOptions {
        message_id: "msg_test".into(),
        model: "claude-opus-5-5".into(),
        input_tokens: o
            .get("input_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(1_000) as u32,
        context_window: 200_000,
        thinking: o.get("thinking").and_then(Value::as_bool).unwrap_or(false),
        tool_names: o
            .get("tool_names")
            .map(|v| serde_json::from_value::<HashMap<String, String>>(v.clone()).unwrap())
            .unwrap_or_default(),
        text_call_tools: o
            .get("text_call_tools")
            .map(|v| serde_json::from_value::<HashMap<String, Value>>(v.clone()).unwrap())
            .unwrap_or_default(),
        after_tool_result: o
            .get("after_tool_result")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// Runs one fixture through the real decoder and assembler; returns every stream item.
fn check(path: &Path) -> Value {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut bytes: Vec<u8> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(frame)
        .collect();
    if let Some(n) = fixture.get("truncate_bytes").and_then(Value::as_u64) {
        bytes.truncate(bytes.len() - n as usize);
    }
    let chunk = fixture
        .get("chunk_size")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
        .min(bytes.len().max(1) as u64) as usize;
    let mut items: Vec<Result<Bytes, Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    if let Some(e) = fixture.get("body_error").and_then(Value::as_str) {
        items.push(Err(Error::new(conduit_core::ErrorKind::Timeout, e)));
    }
    let assembler = Assembler::new(options(fixture.get("options")));
    let stream = events_from_body(futures::stream::iter(items), assembler);
    let out: Vec<Value> = futures::executor::block_on(stream.collect::<Vec<_>>())
        .into_iter()
        .map(|item| match item {
            Ok(event) => serde_json::to_value(event).unwrap(),
            Err(e) => json!({"error": {"kind": format!("{:?}", e.kind), "message": e.message}}),
        })
        .collect();
    Value::Array(out)
}

#[test]
fn assemble_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/assemble");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10);
    for path in paths {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        insta::with_settings!({ description => name.clone(), omit_expression => true }, {
            insta::assert_json_snapshot!(name, check(&path));
        });
    }
}
