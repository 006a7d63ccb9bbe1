//! Shared test harness: a sim with one social account, request builders and a frame decoder.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared test helpers; they panic on unexpected answers"
)]

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::{Bytes, BytesMut};
use conduit_sim::{Account, Sim, SimConfig, SimHandle};
use serde_json::{json, Value};

pub const TOKEN: &str = "test-access-token";
pub const REFRESH: &str = "test-refresh-token";
pub const ARN: &str = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";
pub const CHAT_TARGET: &str = "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";

pub async fn sim() -> SimHandle {
    sim_with(SimConfig::default()).await
}

pub async fn sim_with(config: SimConfig) -> SimHandle {
    let sim = Sim::start(config).await.unwrap();
    sim.add_account(Account::new(TOKEN, REFRESH).with_profile_arn(ARN));
    sim
}

/// The minimal request of spec §3.7 with this content.
pub fn request(content: &str) -> Value {
    json!({
        "conversationState": {
            "chatTriggerType": "MANUAL",
            "conversationId": "0b4445e1-f5be-49e1-87ce-62bbc28ad705",
            "currentMessage": {"userInputMessage": {
                "content": content, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}}
        },
        "profileArn": ARN
    })
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POST the body to the REST binding with the standard bearer.
pub async fn chat(sim: &SimHandle, body: &Value) -> reqwest::Response {
    chat_as(sim, TOKEN, body).await
}

pub async fn chat_as(sim: &SimHandle, token: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/generateAssistantResponse", sim.base_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// One decoded frame: `kind` is `:event-type` (or `:exception-type` for exceptions).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub message_type: String,
    pub kind: String,
    pub content_type: Option<String>,
    pub payload: Value,
    pub raw_payload: String,
    pub header_names: Vec<String>,
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .map(|h| h.value().as_string().unwrap().as_str().to_owned())
}

fn to_frame(m: Message) -> Frame {
    let message_type = header(&m, ":message-type").unwrap();
    let kind = header(&m, ":event-type")
        .or_else(|| header(&m, ":exception-type"))
        .unwrap();
    let raw_payload = String::from_utf8(m.payload().to_vec()).unwrap();
    Frame {
        message_type,
        kind,
        content_type: header(&m, ":content-type"),
        payload: serde_json::from_str(&raw_payload).unwrap(),
        raw_payload,
        header_names: m
            .headers()
            .iter()
            .map(|h| h.name().as_str().to_owned())
            .collect(),
    }
}

/// Decode all complete frames; panics on trailing garbage.
pub fn decode(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let DecodedFrame::Complete(m) = decoder.decode_frame(&mut buf).unwrap() {
        out.push(to_frame(m));
    }
    assert!(buf.is_empty(), "trailing bytes after the last frame");
    out
}

/// Read a successful stream to its end and decode it.
pub async fn frames(resp: reqwest::Response) -> Vec<Frame> {
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    decode(&resp.bytes().await.unwrap())
}

/// Read chunks until the body ends or fails; returns the bytes and whether it failed.
pub async fn read_until_error(mut resp: reqwest::Response) -> (Bytes, bool) {
    let mut all = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => all.extend_from_slice(&c),
            Ok(None) => return (all.freeze(), false),
            Err(_) => return (all.freeze(), true),
        }
    }
}

/// The kinds of the frames, in order.
pub fn kinds(frames: &[Frame]) -> Vec<&str> {
    frames.iter().map(|f| f.kind.as_str()).collect()
}

/// The concatenated `assistantResponseEvent` text.
pub fn text(frames: &[Frame]) -> String {
    frames
        .iter()
        .filter(|f| f.kind == "assistantResponseEvent")
        .map(|f| f.payload["content"].as_str().unwrap().to_owned())
        .collect()
}
