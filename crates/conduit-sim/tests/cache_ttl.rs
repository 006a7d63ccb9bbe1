//! Prompt-cache writes by TTL (`cache_control.ttl`), on the Anthropic API and Bedrock
//! InvokeModel: every usage carries `cache_creation`, `message_delta` usage is cumulative, the
//! streamed and non-streamed answers report the same numbers, and the TTL rules are the API's.
#![allow(
    clippy::unwrap_used,
    clippy::type_complexity,
    reason = "test helpers panic on unexpected answers; case tables are tuples"
)]

mod messages_common;

use conduit_sim::anthropic::TEST_API_KEY;
use conduit_sim::SimHandle;
use messages_common::*;
use serde_json::{json, Value};

const OPUS: &str = "us.anthropic.claude-opus-4-7";
const STREAM: &str = "invoke-with-response-stream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Anthropic,
    Bedrock,
}

fn text(t: &str, ttl: Option<&str>) -> Value {
    let mut b = json!({"type": "text", "text": t});
    match ttl {
        None => {}
        Some("") => b["cache_control"] = json!({"type": "ephemeral"}),
        Some(ttl) => b["cache_control"] = json!({"type": "ephemeral", "ttl": ttl}),
    }
    b
}

/// A Messages body for `service` (Bedrock: `anthropic_version` in the body, no model).
fn request(service: Service, system: Vec<Value>, content: Vec<Value>) -> Value {
    let mut b = json!({"max_tokens": 256, "system": system,
        "messages": [{"role": "user", "content": content}]});
    match service {
        Service::Anthropic => b["model"] = json!("claude-opus-4-7"),
        Service::Bedrock => b["anthropic_version"] = json!("bedrock-2023-05-31"),
    }
    b
}

async fn call(sim: &SimHandle, service: Service, body: &Value, stream: bool) -> reqwest::Response {
    match service {
        Service::Anthropic => {
            let mut body = body.clone();
            body["stream"] = json!(stream);
            reqwest::Client::new()
                .post(format!("{}/anthropic/v1/messages", sim.base_url()))
                .header("x-api-key", TEST_API_KEY)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
        Service::Bedrock => invoke(sim, OPUS, if stream { STREAM } else { "invoke" }, body).await,
    }
}

/// The usage of an answer: `(message_start usage, final usage)`; both the body's for a
/// non-streamed answer.
async fn usage(resp: reqwest::Response, service: Service, stream: bool) -> (Value, Value) {
    assert_eq!(resp.status().as_u16(), 200);
    if !stream {
        let v: Value = resp.json().await.unwrap();
        return (v["usage"].clone(), v["usage"].clone());
    }
    let bytes = resp.bytes().await.unwrap();
    let events: Vec<Value> = match service {
        Service::Anthropic => sse(std::str::from_utf8(&bytes).unwrap())
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
        Service::Bedrock => events(&decode(&bytes)),
    };
    let of = |t: &str| events.iter().find(|e| e["type"] == t).unwrap().clone();
    let start = of("message_start")["message"]["usage"].clone();
    let delta = of("message_delta");
    if service == Service::Bedrock {
        // The invocation metrics keep their fields.
        let metrics = &of("message_stop")["amazon-bedrock-invocationMetrics"];
        assert_eq!(
            metrics["cacheWriteInputTokenCount"],
            delta["usage"]["cache_creation_input_tokens"]
        );
        assert_eq!(
            metrics["cacheReadInputTokenCount"],
            delta["usage"]["cache_read_input_tokens"]
        );
        assert_eq!(metrics["inputTokenCount"], delta["usage"]["input_tokens"]);
    }
    (start, delta["usage"].clone())
}

fn n(u: &Value, k: &str) -> u64 {
    u[k].as_u64().unwrap_or_else(|| panic!("{k} in {u}"))
}

/// An earlier prompt cached (5m) at block A; then the grown prompt: A unmarked, B cached for
/// 1h, C for 5m, a tail. The second answer reads A, writes B at 1h and C at 5m, and has input.
#[tokio::test]
async fn one_hour_and_five_minute_writes_after_a_cached_prefix() {
    let sys = vec![text(&"You are a careful assistant. ".repeat(20), None)];
    let a = "The first part of the document. ".repeat(40);
    let b = "The second part of the document. ".repeat(40);
    let c = "The third part. ".repeat(40);
    for service in [Service::Anthropic, Service::Bedrock] {
        let earlier = request(
            service,
            sys.clone(),
            vec![text(&a, Some("")), text("Hi.", None)],
        );
        let grown = request(
            service,
            sys.clone(),
            vec![
                text(&a, None),
                text(&b, Some("1h")),
                text(&c, Some("5m")),
                text("What does it say?", None),
            ],
        );
        let mut answers = Vec::new();
        for stream in [false, true] {
            let sim = sim().await;
            let (_, first) =
                usage(call(&sim, service, &earlier, stream).await, service, stream).await;
            assert_eq!(
                n(&first["cache_creation"], "ephemeral_5m_input_tokens"),
                n(&first, "cache_creation_input_tokens")
            );
            assert_eq!(n(&first["cache_creation"], "ephemeral_1h_input_tokens"), 0);
            let resp = call(&sim, service, &grown, stream).await;
            let (start, end) = usage(resp, service, stream).await;
            let split = &end["cache_creation"];
            let (w5, w1) = (
                n(split, "ephemeral_5m_input_tokens"),
                n(split, "ephemeral_1h_input_tokens"),
            );
            let label = format!("{service:?} stream={stream}: {end}");
            assert!(n(&end, "input_tokens") > 0, "{label}");
            assert!(w5 > 0 && w1 > 0, "{label}");
            assert!(w1 > w5, "B is longer than C: {label}");
            assert_eq!(n(&end, "cache_creation_input_tokens"), w5 + w1, "{label}");
            assert_eq!(
                n(&end, "cache_read_input_tokens"),
                n(&first, "cache_creation_input_tokens"),
                "A is read: {label}"
            );
            // message_delta repeats every input field of message_start (cumulative usage).
            for k in [
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "cache_creation",
            ] {
                assert_eq!(start[k], end[k], "{k}: {label}");
            }
            // The sim's log records the final usage.
            let log = sim.messages_log(match service {
                Service::Anthropic => "anthropic",
                Service::Bedrock => "bedrock",
            });
            assert_eq!(log.last().unwrap().usage.as_ref(), Some(&end), "{label}");
            answers.push(end);
        }
        assert_eq!(
            answers[0], answers[1],
            "{service:?}: streamed = non-streamed"
        );
    }
}

/// The TTL rules, with each service's error shape.
#[tokio::test]
async fn ttl_values_and_order_are_checked() {
    let sim = sim().await;
    let order = "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`.";
    let cases: Vec<(Vec<Value>, Vec<Value>, Option<String>)> = vec![
        (
            vec![text("s", Some("1h"))],
            vec![text("x", Some("5m"))],
            None,
        ),
        (
            vec![text("s", Some("1h"))],
            vec![text("x", Some("1h"))],
            None,
        ),
        (vec![text("s", Some(""))], vec![text("x", Some("5m"))], None),
        (
            vec![text("s", Some("2h"))],
            vec![text("x", None)],
            Some("system.0.cache_control.ttl: Input should be '5m' or '1h'".into()),
        ),
        (
            vec![text("s", Some(""))],
            vec![text("x", None), text("y", Some("1h"))],
            Some(format!("messages.0.content.1.cache_control.ttl: {order}")),
        ),
        (
            vec![text("s", Some("5m")), text("t", Some("1h"))],
            vec![text("x", None)],
            Some(format!("system.1.cache_control.ttl: {order}")),
        ),
    ];
    for service in [Service::Anthropic, Service::Bedrock] {
        for (system, content, want) in &cases {
            let body = request(service, system.clone(), content.clone());
            let resp = call(&sim, service, &body, false).await;
            let label = format!("{service:?} {body}");
            let Some(want) = want else {
                assert_eq!(resp.status().as_u16(), 200, "{label}");
                continue;
            };
            assert_eq!(resp.status().as_u16(), 400, "{label}");
            match service {
                Service::Anthropic => {
                    let v: Value = resp.json().await.unwrap();
                    assert_eq!(v["type"], "error", "{label}");
                    assert_eq!(v["error"]["type"], "invalid_request_error", "{label}");
                    assert_eq!(v["error"]["message"], json!(want), "{label}");
                    assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
                }
                Service::Bedrock => {
                    assert_eq!(error_type(&resp), "ValidationException", "{label}");
                    let v: Value = resp.json().await.unwrap();
                    assert_eq!(v, json!({ "message": want }), "{label}");
                }
            }
        }
    }
}
