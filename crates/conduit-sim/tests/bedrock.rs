//! The Bedrock runtime: model ids, body rules, streamed chunks, thinking signatures, prompt
//! caching, CountTokens, faults and the log (authentication: `bedrock_auth.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::type_complexity,
    reason = "test helpers panic on unexpected answers; case tables are tuples"
)]

mod messages_common;

use base64::Engine as _;
use conduit_sim::{BedrockFault, FaultKind, Rule, Step};
use messages_common::*;
use serde_json::{json, Value};

const OPUS: &str = "us.anthropic.claude-opus-4-7";
const STREAM: &str = "invoke-with-response-stream";

#[tokio::test]
async fn body_and_model_rules() {
    let sim = sim().await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = body("hi");
        f(&mut b);
        b
    };
    let cc_scope = with(&|b| {
        b["system"] = json!([{"type": "text", "text": "s",
            "cache_control": {"type": "ephemeral", "scope": "global"}}]);
    });
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("not json", OPUS, b"{nope".to_vec(), "Malformed input request, please reformat your input and try again."),
        ("bad version", OPUS, with(&|b| b["anthropic_version"] = json!("2023-06-01")).to_string().into_bytes(),
         "anthropic_version: Input should be 'bedrock-2023-05-31'"),
        ("extra key", OPUS, with(&|b| b["output_config"] = json!({"effort": "high"})).to_string().into_bytes(),
         "output_config: Extra inputs are not permitted"),
        ("cache_control scope", OPUS, cc_scope.to_string().into_bytes(),
         "system.0.cache_control.scope: Extra inputs are not permitted"),
        ("no max_tokens", OPUS, with(&|b| { b.as_object_mut().unwrap().remove("max_tokens"); }).to_string().into_bytes(),
         "max_tokens: Field required"),
        ("invalid beta", OPUS, with(&|b| b["anthropic_beta"] = json!(["interleaved-thinking-2025-05-14", "oauth-2025-04-20"])).to_string().into_bytes(),
         "invalid beta flag"),
        ("unknown model", "us.anthropic.claude-nope", body("hi").to_string().into_bytes(),
         "The provided model identifier is invalid."),
        ("bare foundation id", "anthropic.claude-opus-4-7", body("hi").to_string().into_bytes(),
         "Invocation of model ID anthropic.claude-opus-4-7 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model."),
        ("prefix/region mismatch", "eu.anthropic.claude-opus-4-7", body("hi").to_string().into_bytes(),
         "The provided model identifier is invalid."),
    ];
    let ep = endpoint(&sim, Some("us-east-1"));
    for (name, id, b, message) in cases {
        let resp = post_signed(&ep, id, "invoke", &b, Some(&Signer::new("us-east-1"))).await;
        assert_eq!(resp.status().as_u16(), 400, "{name}");
        assert_eq!(error_type(&resp), "ValidationException", "{name}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["message"], message, "{name}");
    }
    // Accepted betas and a cache_control with only type/ttl pass.
    let ok = with(&|b| {
        b["anthropic_beta"] = json!(["interleaved-thinking-2025-05-14"]);
        b["messages"][0]["content"] = json!([{"type": "text", "text": "x",
            "cache_control": {"type": "ephemeral", "ttl": "5m"}}]);
    });
    assert_eq!(
        invoke(&sim, OPUS, "invoke", &ok).await.status().as_u16(),
        200
    );
}

#[tokio::test]
async fn streamed_chunks_are_a_valid_anthropic_sequence() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::text_chunked("Let me look.", 4),
        Step::tool_use("read_file", json!({"path": "/tmp/x"})),
    ]));
    let resp = invoke(&sim, OPUS, STREAM, &body("read it")).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let msgs = decode(&resp.bytes().await.unwrap());
    for m in &msgs {
        assert_eq!(m.message_type, "event");
        assert_eq!(m.event_type.as_deref(), Some("chunk"));
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert!(m.payload["p"].as_str().is_some_and(|p| !p.is_empty()));
    }
    let evs = events(&msgs);
    let t = types(&evs);
    assert!(!t.contains(&"ping".to_owned()));
    assert_eq!(t.first().map(String::as_str), Some("message_start"));
    assert_eq!(&t[t.len() - 2..], ["message_delta", "message_stop"]);
    let usage = &evs[0]["message"]["usage"];
    for k in [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        assert!(usage[k].is_u64(), "{k}");
    }
    assert_eq!(usage["output_tokens"], 1);
    let delta = &evs[evs.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    let metrics = &evs[evs.len() - 1]["amazon-bedrock-invocationMetrics"];
    assert_eq!(metrics["outputTokenCount"], delta["usage"]["output_tokens"]);
    assert_eq!(metrics["inputTokenCount"], usage["input_tokens"]);
    for k in [
        "invocationLatency",
        "firstByteLatency",
        "cacheReadInputTokenCount",
        "cacheWriteInputTokenCount",
    ] {
        assert!(metrics[k].is_u64(), "{k}");
    }
    let b = blocks(&evs);
    assert_eq!(b[0]["text"], "Let me look.");
    assert_eq!(b[1]["type"], "tool_use");
    assert!(b[1]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(
        serde_json::from_str::<Value>(b[1]["_json"].as_str().unwrap()).unwrap(),
        json!({"path": "/tmp/x"})
    );
}

#[tokio::test]
async fn invoke_answers_the_message_json() {
    let sim = sim().await;
    let resp = invoke(&sim, OPUS, "invoke", &body("hi")).await;
    assert_eq!(resp.status().as_u16(), 200);
    let input: u64 = resp.headers()["x-amzn-bedrock-input-token-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let output: u64 = resp.headers()["x-amzn-bedrock-output-token-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["content"][0]["text"], conduit_sim::DEFAULT_TEXT);
    assert_eq!(v["usage"]["input_tokens"], input);
    assert_eq!(v["usage"]["output_tokens"], output);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
}

/// Thinking (default and scripted) is signed; replaying it passes, a tampered one is refused.
#[tokio::test]
async fn thinking_signatures_round_trip() {
    let sim = sim().await;
    let mut b = body("think");
    b["thinking"] = json!({"type": "enabled", "budget_tokens": 2000});
    let resp = invoke(&sim, OPUS, STREAM, &b).await;
    let evs = events(&decode(&resp.bytes().await.unwrap()));
    let content = blocks(&evs);
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], conduit_sim::DEFAULT_REASONING);
    assert!(content[0]["signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    sim.add_rule(Rule::reply(vec![Step::redacted_reasoning(), Step::text("ok")]).times(1));
    let resp = invoke(&sim, OPUS, "invoke", &body("redact")).await;
    let redacted: Value = resp.json().await.unwrap();
    assert_eq!(redacted["content"][0]["type"], "redacted_thinking");

    let replay = |assistant: Vec<Value>| {
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [
            {"role": "user", "content": "think"},
            {"role": "assistant", "content": assistant},
            {"role": "user", "content": "go on"}]})
    };
    let good = vec![content[0].clone(), json!({"type": "text", "text": "Hello"})];
    assert_eq!(
        invoke(&sim, OPUS, "invoke", &replay(good))
            .await
            .status()
            .as_u16(),
        200
    );
    let red = vec![redacted["content"][0].clone()];
    assert_eq!(
        invoke(&sim, OPUS, "invoke", &replay(red))
            .await
            .status()
            .as_u16(),
        200
    );

    let mut tampered = content[0].clone();
    tampered["thinking"] = json!("I changed my mind.");
    let resp = invoke(&sim, OPUS, "invoke", &replay(vec![tampered])).await;
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["message"],
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    );
    let forged = vec![json!({"type": "redacted_thinking", "data": "Zm9yZ2Vk"})];
    let v: Value = invoke(&sim, OPUS, "invoke", &replay(forged))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["message"],
        "messages.1.content.0: Invalid `signature` in `redacted_thinking` block"
    );
}

fn cached_body(text: &str) -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "system": [{"type": "text", "text": "You are a careful assistant. ".repeat(40),
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn cache_write_then_read_and_count_tokens_agree() {
    let sim = sim().await;
    let first: Value = invoke(&sim, OPUS, "invoke", &cached_body("one"))
        .await
        .json()
        .await
        .unwrap();
    let u1 = &first["usage"];
    let written = u1["cache_creation_input_tokens"].as_u64().unwrap();
    assert!(written > 0);
    assert_eq!(u1["cache_read_input_tokens"], 0);
    let second: Value = invoke(&sim, OPUS, "invoke", &cached_body("one"))
        .await
        .json()
        .await
        .unwrap();
    let u2 = &second["usage"];
    assert_eq!(u2["cache_read_input_tokens"], written);
    assert_eq!(u2["cache_creation_input_tokens"], 0);
    assert_eq!(u2["input_tokens"], u1["input_tokens"]);
    // Another model does not share the entry.
    let other: Value = invoke(
        &sim,
        "us.anthropic.claude-sonnet-4-6",
        "invoke",
        &cached_body("one"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(other["usage"]["cache_creation_input_tokens"], written);

    let total = u1["input_tokens"].as_u64().unwrap() + written;
    let mut inner = cached_body("one");
    inner.as_object_mut().unwrap().remove("max_tokens");
    let b64 = base64::engine::general_purpose::STANDARD.encode(inner.to_string());
    let count = json!({"input": {"invokeModel": {"body": b64}}});
    let resp = invoke(&sim, "anthropic.claude-opus-4-7", "count-tokens", &count).await;
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v, json!({ "inputTokens": total }));
    // A profile id cannot count; the inner body follows the body rules.
    let resp = invoke(&sim, OPUS, "count-tokens", &count).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["message"],
        "The provided model doesn't support counting tokens."
    );
    let mut bad = inner.clone();
    bad["context_management"] = json!({});
    let b64 = base64::engine::general_purpose::STANDARD.encode(bad.to_string());
    let resp = invoke(
        &sim,
        "anthropic.claude-opus-4-7",
        "count-tokens",
        &json!({"input": {"invokeModel": {"body": b64}}}),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn faults_throttle_then_recover() {
    let sim = sim().await;
    sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::Throttle)
            .region("us-east-1")
            .times(2),
    );
    for _ in 0..2 {
        let resp = invoke(&sim, OPUS, STREAM, &body("hi")).await;
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(error_type(&resp), "ThrottlingException");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v["message"],
            "Too many requests, please wait before trying again."
        );
    }
    assert_eq!(
        invoke(&sim, OPUS, STREAM, &body("hi"))
            .await
            .status()
            .as_u16(),
        200
    );

    // Over the control API; only the named region is hit.
    let faults = [
        (
            json!({"region": "us-west-2", "kind": "unavailable", "times": 1}),
            503,
            "ServiceUnavailableException",
        ),
        (
            json!({"model": "opus", "kind": "access_denied", "times": 1}),
            403,
            "AccessDeniedException",
        ),
        (
            json!({"kind": "model_not_ready", "times": 1}),
            429,
            "ModelNotReadyException",
        ),
    ];
    for (fault, status, kind) in faults {
        let r = reqwest::Client::new()
            .post(format!("{}/_sim/bedrock/faults", sim.base_url()))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let region = fault["region"].as_str().unwrap_or("us-east-1");
        if region != "us-east-1" {
            assert_eq!(
                invoke(&sim, OPUS, "invoke", &body("hi"))
                    .await
                    .status()
                    .as_u16(),
                200
            );
        }
        let ep = endpoint(&sim, Some(region));
        let resp = post_signed(
            &ep,
            OPUS,
            "invoke",
            body("hi").to_string().as_bytes(),
            Some(&Signer::new(region)),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status, "{fault}");
        assert_eq!(error_type(&resp), kind);
    }
}

#[tokio::test]
async fn stream_exception_after_events() {
    let sim = sim().await;
    sim.add_bedrock_fault(
        BedrockFault::new(FaultKind::StreamException)
            .exception("modelStreamErrorException")
            .message("boom")
            .after_events(2)
            .times(1),
    );
    let resp = invoke(&sim, OPUS, STREAM, &body("hi")).await;
    assert_eq!(resp.status().as_u16(), 200);
    let msgs = decode(&resp.bytes().await.unwrap());
    assert_eq!(msgs.len(), 3);
    let last = &msgs[2];
    assert_eq!(last.message_type, "exception");
    assert_eq!(
        last.exception_type.as_deref(),
        Some("modelStreamErrorException")
    );
    assert_eq!(last.payload, json!({"message": "boom"}));
    let log = sim.messages_log("bedrock");
    assert_eq!(log[0].usage.as_ref().unwrap()["output_tokens"], 1);
}

#[tokio::test]
async fn log_entries_name_service_region_and_usage() {
    let sim = sim().await;
    let id = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    let resp = invoke(&sim, id, STREAM, &body("hi")).await;
    let evs = events(&decode(&resp.bytes().await.unwrap()));
    let _ = invoke(&sim, OPUS, "invoke", &json!({"anthropic_version": "x"})).await;
    let log = sim.messages_log("bedrock");
    assert_eq!(log.len(), 2);
    let e = &log[0];
    assert_eq!(e.path, format!("/model/{id}/{STREAM}"));
    assert_eq!(e.region.as_deref(), Some("us-east-1"));
    assert_eq!(e.status, 200);
    assert_eq!(e.body["messages"][0]["content"], "hi");
    let start = &evs[0]["message"]["usage"];
    let usage = e.usage.as_ref().unwrap();
    assert_eq!(usage["input_tokens"], start["input_tokens"]);
    assert_eq!(
        usage["output_tokens"],
        evs[evs.len() - 2]["usage"]["output_tokens"]
    );
    assert_eq!(log[1].status, 400);
    assert!(log[1].usage.is_none());
    assert_eq!(sim.log()[0].service.as_deref(), Some("bedrock"));
}
