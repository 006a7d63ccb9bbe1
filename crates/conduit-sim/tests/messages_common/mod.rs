//! Shared harness of the Bedrock and Anthropic API tests: requests signed with `aws-sigv4` (the
//! real AWS signer, independent of the sim's verifier), event-stream and SSE decoding.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared test helpers; they panic on unexpected answers"
)]

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use bytes::BytesMut;
use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{Sim, SimConfig, SimHandle};
use serde_json::{json, Value};

pub async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.unwrap()
}

/// How a request is signed.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret: String,
    pub region: String,
    pub service: String,
    pub time: SystemTime,
    /// Sent (and signed) as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl Signer {
    pub fn new(region: &str) -> Self {
        Signer {
            access_key: TEST_ACCESS_KEY_ID.to_owned(),
            secret: TEST_SECRET_ACCESS_KEY.to_owned(),
            region: region.to_owned(),
            service: "bedrock".to_owned(),
            time: SystemTime::now(),
            session_token: None,
        }
    }

    pub fn service(mut self, s: &str) -> Self {
        self.service = s.to_owned();
        self
    }

    pub fn secret(mut self, s: &str) -> Self {
        self.secret = s.to_owned();
        self
    }

    pub fn access_key(mut self, s: &str) -> Self {
        self.access_key = s.to_owned();
        self
    }

    /// The headers to add (authorization, x-amz-date, ...) for this request.
    pub fn headers(&self, url: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
        let identity: Identity = Credentials::new(
            &self.access_key,
            &self.secret,
            self.session_token.clone(),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let host = url.split('/').nth(2).unwrap().to_owned();
        let mut headers: Vec<(&str, &str)> =
            vec![("host", &host), ("content-type", "application/json")];
        headers.extend_from_slice(extra);
        let signable =
            SignableRequest::new("POST", url, headers.into_iter(), SignableBody::Bytes(body))
                .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// `{base}/region/{region}` (or the root for `None`).
pub fn endpoint(sim: &SimHandle, region: Option<&str>) -> String {
    match region {
        Some(r) => format!("{}/region/{r}", sim.base_url()),
        None => sim.base_url(),
    }
}

/// Percent-encode a model id for the path, as the AWS SDKs do.
pub fn encode_id(id: &str) -> String {
    id.replace(':', "%3A").replace('/', "%2F")
}

/// POST a body to `{endpoint}/model/{id}/{op}`, SigV4-signed by `signer` (unsigned when `None`).
pub async fn post_signed(
    endpoint: &str,
    id: &str,
    op: &str,
    body: &[u8],
    signer: Option<&Signer>,
) -> reqwest::Response {
    let url = format!("{endpoint}/model/{}/{op}", encode_id(id));
    let mut req = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signer {
        for (k, v) in s.headers(&url, &[], body) {
            req = req.header(k, v);
        }
    }
    req.send().await.unwrap()
}

/// POST with `Authorization: Bearer <key>`.
pub async fn post_bearer(
    endpoint: &str,
    id: &str,
    op: &str,
    body: &Value,
    key: &str,
) -> reqwest::Response {
    let url = format!("{endpoint}/model/{}/{op}", encode_id(id));
    reqwest::Client::new()
        .post(&url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The usual signed us-east-1 call.
pub async fn invoke(sim: &SimHandle, id: &str, op: &str, body: &Value) -> reqwest::Response {
    let ep = endpoint(sim, Some("us-east-1"));
    post_signed(
        &ep,
        id,
        op,
        body.to_string().as_bytes(),
        Some(&Signer::new("us-east-1")),
    )
    .await
}

/// A minimal valid InvokeModel body.
pub fn body(text: &str) -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024,
           "messages": [{"role": "user", "content": text}]})
}

/// The error name of `x-amzn-errortype` (before the `:`).
pub fn error_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_owned()
}

/// One decoded stream message: its headers and payload.
#[derive(Debug, Clone)]
pub struct StreamMsg {
    pub message_type: String,
    pub event_type: Option<String>,
    pub exception_type: Option<String>,
    pub content_type: Option<String>,
    pub payload: Value,
    /// For chunks: the Anthropic event inside `bytes`.
    pub event: Option<Value>,
}

fn header(m: &aws_smithy_types::event_stream::Message, name: &str) -> Option<String> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str().to_owned())
}

/// Decode a whole event-stream body.
pub fn decode(bytes: &[u8]) -> Vec<StreamMsg> {
    let mut buf = BytesMut::from(bytes);
    let mut dec = MessageFrameDecoder::new();
    let mut out = Vec::new();
    while let DecodedFrame::Complete(m) = dec.decode_frame(&mut buf).unwrap() {
        let payload: Value = serde_json::from_slice(m.payload()).unwrap();
        let event = payload.get("bytes").and_then(Value::as_str).map(|b| {
            let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            serde_json::from_slice(&raw).unwrap()
        });
        out.push(StreamMsg {
            message_type: header(&m, ":message-type").unwrap_or_default(),
            event_type: header(&m, ":event-type"),
            exception_type: header(&m, ":exception-type"),
            content_type: header(&m, ":content-type"),
            payload,
            event,
        });
    }
    out
}

/// The Anthropic events of a decoded stream.
pub fn events(msgs: &[StreamMsg]) -> Vec<Value> {
    msgs.iter().filter_map(|m| m.event.clone()).collect()
}

pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Rebuild the assistant content blocks from stream events (text, thinking + signature, tool_use).
pub fn blocks(events: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for e in events {
        match e["type"].as_str() {
            Some("content_block_start") => out.push(e["content_block"].clone()),
            Some("content_block_delta") => {
                let b = out.last_mut().unwrap();
                let d = &e["delta"];
                let (field, piece) = match d["type"].as_str().unwrap() {
                    "text_delta" => ("text", &d["text"]),
                    "thinking_delta" => ("thinking", &d["thinking"]),
                    "signature_delta" => ("signature", &d["signature"]),
                    _ => ("_json", &d["partial_json"]),
                };
                let mut s = b[field].as_str().unwrap_or("").to_owned();
                s.push_str(piece.as_str().unwrap());
                b[field] = json!(s);
            }
            _ => {}
        }
    }
    out
}

/// Parse an SSE body into `(event, data)` pairs.
pub fn sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let mut event = String::new();
            let mut data = Value::Null;
            for line in f.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (event, data)
        })
        .collect()
}
