//! The gateway's HTTP surface over the upstream seam, without sockets: `Router::oneshot` on
//! `routes::router(state)` with scripted `FakeUpstream`s behind the model router. What reaches
//! an upstream (the Call, the Messages lane's body and headers), failover between two upstreams,
//! errors in each dialect, and the Messages lane relayed byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use conduit::apikey::ApiKey;
use conduit::config::DebugMode;
use conduit::state::{Access, AppState, KiroAccounts, OpenAiState, RelaySettings, Upstreams};
use conduit_core::{Error, ErrorKind, FailoverCause, RawError, RawEvent, Upstream};
use conduit_testkit::{messages_text_turn, FakeUpstream, MessagesOutcome, Outcome};
use conduit_upstream::clock::SystemClock;
use conduit_upstream::router::{ModelRouter, RouteRule, RouterSettings};
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "sk-seam-test-key";
const PORT: u16 = 8765;

/// The gateway over `fakes`, all serving `claude-*` in this order of preference.
fn gateway(fakes: &[&Arc<FakeUpstream>]) -> axum::Router {
    conduit::routes::local_only::allow_port(PORT);
    let upstreams: Vec<Arc<dyn Upstream>> = fakes
        .iter()
        .map(|f| Arc::clone(f) as Arc<dyn Upstream>)
        .collect();
    let route = RouteRule {
        models: vec!["claude-*".into()],
        upstreams: upstreams.iter().map(|u| u.id().to_owned()).collect(),
    };
    let settings = RouterSettings {
        cooldown: Duration::from_secs(30),
        credentials_cooldown: Duration::from_secs(300),
    };
    let router = ModelRouter::new(upstreams, vec![route], settings, Arc::new(SystemClock)).unwrap();
    conduit::routes::router(AppState {
        upstreams: Upstreams(Arc::new(router)),
        kiro: KiroAccounts(None),
        relay: RelaySettings {
            debug_mode: DebugMode::Off,
            ping_interval: Duration::from_secs(60),
        },
        access: Access {
            key: Arc::new(ApiKey::new(KEY).unwrap()),
        },
        openai: OpenAiState::default(),
        team: None,
    })
}

fn fake(id: &str) -> Arc<FakeUpstream> {
    Arc::new(FakeUpstream::new(id).serving(["claude-*"]))
}

fn post(path: &str, body: &Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::post(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("content-type", "application/json")
        .header("x-api-key", KEY);
    if !path.starts_with("/v1/chat") {
        r = r.header("anthropic-version", "2023-06-01");
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn send(app: axum::Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body)
}

fn json_of(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn ask(stream: bool) -> Value {
    json!({"model": "claude-seam-1", "max_tokens": 100, "stream": stream,
        "system": "Be brief.", "messages": [{"role": "user", "content": "hello seam"}]})
}

#[tokio::test]
async fn an_anthropic_request_reaches_the_upstream_as_one_prepared_call() {
    let up = fake("up");
    up.push(Outcome::text("hi from up"));
    let (status, body) = send(gateway(&[&up]), post("/v1/messages", &ask(false), &[])).await;

    assert_eq!(status, 200, "{body:?}");
    let answer = json_of(&body);
    assert_eq!(answer["content"][0]["text"], "hi from up");
    let calls = up.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.request.model, "claude-seam-1");
    assert_eq!(call.model.client, "claude-seam-1");
    assert!(call.input_tokens_estimate() > 0);
    assert!(call.message_id.starts_with("msg_"), "{}", call.message_id);
    assert_eq!(answer["id"], call.message_id.as_str());
}

#[tokio::test]
async fn an_openai_request_reaches_the_upstream_on_the_canonical_lane() {
    let up = Arc::new(
        FakeUpstream::new("up")
            .serving(["claude-*"])
            .with_messages_lane(7),
    );
    up.push(Outcome::text("hi from chat"));
    let body = json!({"model": "claude-seam-1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]});
    let (status, out) = send(gateway(&[&up]), post("/v1/chat/completions", &body, &[])).await;

    assert_eq!(status, 200, "{out:?}");
    assert_eq!(
        json_of(&out)["choices"][0]["message"]["content"],
        "hi from chat"
    );
    assert_eq!(up.calls().len(), 1, "OpenAI clients use the canonical lane");
    assert!(up.messages_calls().is_empty());
    assert_eq!(up.calls()[0].request.model, "claude-seam-1");
}

#[tokio::test]
async fn a_throttled_upstream_fails_over_to_the_next_with_the_same_message_id() {
    let (a, b) = (fake("a"), fake("b"));
    a.push(Outcome::Error(
        Error::new(ErrorKind::RateLimited, "a is throttled").with_cause(FailoverCause::Throttled),
    ));
    b.push(Outcome::text("from b"));
    let app = gateway(&[&a, &b]);

    let (status, body) = send(app.clone(), post("/v1/messages", &ask(false), &[])).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(json_of(&body)["content"][0]["text"], "from b");
    assert_eq!((a.call_count(), b.call_count()), (1, 1));
    assert_eq!(a.calls()[0].message_id, b.calls()[0].message_id);

    // `a` now rests: the next request goes to `b` first.
    b.push(Outcome::text("b again"));
    let (status, body) = send(app, post("/v1/messages", &ask(false), &[])).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(json_of(&body)["content"][0]["text"], "b again");
    assert_eq!((a.call_count(), b.call_count()), (1, 2));
}

#[tokio::test]
async fn a_client_error_does_not_fail_over() {
    let (a, b) = (fake("a"), fake("b"));
    a.push(Outcome::Error(Error::invalid_request(
        "messages.0: bad block",
    )));
    let (status, body) = send(gateway(&[&a, &b]), post("/v1/messages", &ask(false), &[])).await;
    assert_eq!(status, 400, "{body:?}");
    assert_eq!(b.call_count(), 0);
}

/// Each upstream error as each dialect renders it.
#[tokio::test]
async fn errors_in_each_dialect() {
    let raw = Bytes::from_static(
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#,
    );
    let cases: Vec<(Error, u16, &str, u16)> = vec![
        (
            Error::new(ErrorKind::Overloaded, "upstream overloaded"),
            529,
            "overloaded_error",
            503,
        ),
        (
            Error::new(
                ErrorKind::Credentials,
                "Bedrock refused the gateway's AWS credentials",
            ),
            403,
            "permission_error",
            403,
        ),
        (
            Error::new(ErrorKind::RateLimited, "slow down"),
            429,
            "rate_limit_error",
            429,
        ),
    ];
    for (error, a_status, a_type, o_status) in cases {
        let up = fake("up");
        up.push(Outcome::Error(error.clone()));
        let (s, body) = send(gateway(&[&up]), post("/v1/messages", &ask(false), &[])).await;
        assert_eq!(s.as_u16(), a_status, "{body:?}");
        let v = json_of(&body);
        assert_eq!(
            (v["type"].as_str(), v["error"]["type"].as_str()),
            (Some("error"), Some(a_type))
        );
        assert_eq!(v["error"]["message"], error.message.as_str());

        let up = fake("up");
        up.push(Outcome::Error(error.clone()));
        let chat =
            json!({"model": "claude-seam-1", "messages": [{"role": "user", "content": "x"}]});
        let (s, body) = send(gateway(&[&up]), post("/v1/chat/completions", &chat, &[])).await;
        assert_eq!(s.as_u16(), o_status, "{body:?}");
        assert_eq!(json_of(&body)["error"]["message"], error.message.as_str());
    }

    // The Anthropic API's own error: unmodified to an Anthropic client, rendered for OpenAI.
    let overloaded =
        Error::new(ErrorKind::Overloaded, "the Anthropic API is overloaded").with_raw(RawError {
            dialect: "anthropic",
            status: 529,
            body: raw.clone(),
        });
    let up = fake("up");
    up.push(Outcome::Error(overloaded.clone()));
    let (s, body) = send(gateway(&[&up]), post("/v1/messages", &ask(false), &[])).await;
    assert_eq!((s.as_u16(), &body[..]), (529, &raw[..]));
    let up = fake("up");
    up.push(Outcome::Error(overloaded));
    let chat = json!({"model": "claude-seam-1", "messages": [{"role": "user", "content": "x"}]});
    let (s, body) = send(gateway(&[&up]), post("/v1/chat/completions", &chat, &[])).await;
    assert_eq!(s.as_u16(), 503, "{body:?}");
    assert!(json_of(&body)["error"].is_object(), "{body:?}");
}

fn sse_of(events: &[RawEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(format!("event: {}\ndata: ", e.name).as_bytes());
        out.extend_from_slice(&e.data);
        out.extend_from_slice(b"\n\n");
    }
    out
}

/// An Anthropic turn with a signed thinking block, as an upstream that speaks Messages sends it.
fn signed_turn() -> Vec<RawEvent> {
    let ev = |name: &str, data: &str| RawEvent {
        name: name.into(),
        data: Bytes::from(data.to_owned()),
    };
    vec![
        ev(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_up","type":"message","role":"assistant","model":"claude-seam-1","content":[],"stop_reason":null,"usage":{"input_tokens":5,"cache_creation_input_tokens":1200,"cache_read_input_tokens":0,"output_tokens":1}}}"#,
        ),
        ev(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        ),
        ev(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see."}}"#,
        ),
        ev(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBxgCKkA+/x=="}}"#,
        ),
        ev(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        ev(
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"","citations":[]}}"#,
        ),
        ev(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi."}}"#,
        ),
        ev(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#,
        ),
        ev(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}"#,
        ),
        ev("message_stop", r#"{"type":"message_stop"}"#),
    ]
}

#[tokio::test]
async fn the_messages_lane_is_relayed_byte_for_byte() {
    let up = Arc::new(
        FakeUpstream::new("up")
            .serving(["claude-*"])
            .with_messages_lane(1),
    );
    let events = signed_turn();
    up.push_messages(MessagesOutcome::Stream(events.clone()));
    let mut body = ask(true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    body["context_management"] = json!({"edits": []});
    let headers = [
        (
            "anthropic-beta",
            "interleaved-thinking-2025-05-14,fast-mode-2026-02-01",
        ),
        ("anthropic-workspace-id", "wrkspc_1"),
    ];
    let (status, out) = send(gateway(&[&up]), post("/v1/messages", &body, &headers)).await;

    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&sse_of(&events))
    );
    assert!(up.calls().is_empty(), "the canonical lane was not used");
    let calls = up.messages_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert!(call.stream);
    assert_eq!(
        serde_json::Value::Object(call.body.clone()),
        body,
        "the client's body, untouched"
    );
    let passed: Vec<(&str, &str)> = call
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for h in [("anthropic-version", "2023-06-01"), headers[0], headers[1]] {
        assert!(passed.contains(&h), "{passed:?} lacks {h:?}");
    }
    assert_eq!(call.model.client, "claude-seam-1");
}

#[tokio::test]
async fn the_messages_lane_json_and_in_stream_errors() {
    let up = Arc::new(
        FakeUpstream::new("up")
            .serving(["claude-*"])
            .with_messages_lane(1),
    );
    let whole = Bytes::from_static(
        br#"{"id":"msg_up","type":"message","role":"assistant","content":[{"type":"text","text":"Hi.","citations":null}],"usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}"#,
    );
    up.push_messages(MessagesOutcome::Json(whole.clone()));
    let (status, out) = send(gateway(&[&up]), post("/v1/messages", &ask(false), &[])).await;
    assert_eq!((status.as_u16(), &out[..]), (200, &whole[..]));

    let turn = messages_text_turn("msg_up", "claude-seam-1", "partial");
    let cut = Error::new(
        ErrorKind::Overloaded,
        "modelStreamErrorException: the model failed",
    );
    up.push_messages(MessagesOutcome::StreamThenError(turn[..3].to_vec(), cut));
    let (status, out) = send(gateway(&[&up]), post("/v1/messages", &ask(true), &[])).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with(&*String::from_utf8_lossy(&sse_of(&turn[..3]))),
        "{text}"
    );
    let tail = text.rsplit("\n\n").nth(1).unwrap_or("");
    assert!(tail.starts_with("event: error\ndata: "), "{text}");
    assert!(
        tail.contains("overloaded_error") && tail.contains("modelStreamErrorException"),
        "{tail}"
    );
}

#[tokio::test]
async fn count_tokens_is_the_lanes_exact_count() {
    let up = Arc::new(
        FakeUpstream::new("up")
            .serving(["claude-*"])
            .with_messages_lane(4242),
    );
    let body =
        json!({"model": "claude-seam-1", "messages": [{"role": "user", "content": "count me"}]});
    let (status, out) = send(
        gateway(&[&up]),
        post("/v1/messages/count_tokens", &body, &[]),
    )
    .await;
    assert_eq!(status, 200, "{out:?}");
    assert_eq!(json_of(&out), json!({"input_tokens": 4242}));
}

#[tokio::test]
async fn kiro_routes_are_not_mounted_without_kiro() {
    let up = fake("up");
    let app = gateway(&[&up]);
    let usage = Request::get("/v1/usage")
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("x-api-key", KEY)
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(app.clone(), usage).await;
    assert_eq!(status, 404);
    let login = Request::get("/login")
        .header("host", format!("127.0.0.1:{PORT}"))
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(app, login).await;
    assert_eq!(status, 404);
}
