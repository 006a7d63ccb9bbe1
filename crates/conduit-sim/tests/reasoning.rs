//! Native reasoning (spec §9.4, §9.5): `reasoningContentEvent` frames, signatures in fragments,
//! redacted reasoning, the default reasoning reply, and the checks on replayed history.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::{Rule, Step, DEFAULT_REASONING, DEFAULT_TEXT};
use serde_json::{json, Value};

/// The reasoning of a stream: (text, signature, signature fragments, redacted values).
fn reasoning(frames: &[Frame]) -> (String, String, usize, Vec<String>) {
    let mut text = String::new();
    let mut sig = String::new();
    let mut fragments = 0;
    let mut redacted = Vec::new();
    for f in frames.iter().filter(|f| f.kind == "reasoningContentEvent") {
        if let Some(t) = f.payload["text"].as_str() {
            text.push_str(t);
        }
        if let Some(s) = f.payload["signature"].as_str() {
            sig.push_str(s);
            fragments += 1;
        }
        if let Some(r) = f.payload["redactedContent"].as_str() {
            redacted.push(r.to_owned());
        }
    }
    (text, sig, fragments, redacted)
}

fn opus(content: &str, fields: Value) -> Value {
    let mut body = request(content);
    body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] =
        json!("claude-opus-5");
    if !fields.is_null() {
        body["additionalModelRequestFields"] = fields;
    }
    body
}

/// A follow-up whose history replays this assistant turn.
fn replay(assistant: Value) -> Value {
    let mut body = opus("And now?", Value::Null);
    body["conversationState"]["history"] = json!([
        {"userInputMessage": {"content": "Hi", "modelId": "claude-opus-5", "origin": "AI_EDITOR"}},
        {"assistantResponseMessage": assistant}
    ]);
    body
}

#[tokio::test]
async fn reasoning_steps_send_text_then_a_fragmented_signature() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::Reasoning {
            reasoning: "Let me think about this.".into(),
            signed: None,
            chunk: Some(5),
        },
        Step::text("Done."),
    ]));
    let fr = frames(chat(&sim, &opus("Hi", Value::Null)).await).await;
    let (text, sig, fragments, _) = reasoning(&fr);
    assert_eq!(text, "Let me think about this.");
    assert!(fragments >= 2, "signature in {fragments} fragments");
    assert!(sig.len() > 40);
    let first_text = kinds(&fr)
        .iter()
        .position(|k| *k == "assistantResponseEvent")
        .unwrap();
    let last_reasoning = kinds(&fr)
        .iter()
        .rposition(|k| *k == "reasoningContentEvent")
        .unwrap();
    assert!(last_reasoning < first_text);
    for f in fr.iter().filter(|f| f.kind == "reasoningContentEvent") {
        assert_eq!(f.payload.as_object().unwrap().len(), 1, "{}", f.raw_payload);
    }
    // The exact replay is accepted.
    let ok = replay(json!({"content": "Done.",
        "reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}));
    assert_eq!(chat(&sim, &ok).await.status(), 200);
}

#[tokio::test]
async fn json_rules_carry_unsigned_and_redacted_reasoning() {
    let sim = sim().await;
    let r = client()
        .post(format!("{}/_sim/rules", sim.base_url()))
        .json(&json!({"reply": [{"reasoning": "quiet", "signed": false},
                                 {"redacted_reasoning": true}, {"text": "ok"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fr = frames(chat(&sim, &opus("Hi", Value::Null)).await).await;
    let (text, sig, _, redacted) = reasoning(&fr);
    assert_eq!(text, "quiet");
    assert!(sig.is_empty());
    assert_eq!(redacted.len(), 1);
    // An issued redacted block may be replayed; an unknown one may not.
    let ok = replay(json!({"content": "ok", "reasoningContent": {"redactedContent": redacted[0]}}));
    assert_eq!(chat(&sim, &ok).await.status(), 200);
    let forged = replay(json!({"content": "ok", "reasoningContent": {"redactedContent": "AAAA"}}));
    let resp = chat(&sim, &forged).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["reason"],
        "REQUEST_BODY_INVALID"
    );
}

#[tokio::test]
async fn default_reply_reasons_only_when_effort_is_asked_and_allowed() {
    let sim = sim().await;
    let effort = json!({"output_config": {"effort": "high"}});
    let fr = frames(chat(&sim, &opus("Hi", effort.clone())).await).await;
    let (text, sig, fragments, _) = reasoning(&fr);
    assert_eq!(text, DEFAULT_REASONING);
    assert!(!sig.is_empty() && fragments >= 2);
    assert_eq!(common::text(&fr), DEFAULT_TEXT);
    // No effort asked → no reasoning.
    let fr = frames(chat(&sim, &opus("Hi", Value::Null)).await).await;
    assert!(!kinds(&fr).contains(&"reasoningContentEvent"));
    let fr = frames(chat(&sim, &opus("Hi", json!({"thinking": {"type": "disabled"}}))).await).await;
    assert!(!kinds(&fr).contains(&"reasoningContentEvent"));
}

#[tokio::test]
async fn replayed_reasoning_is_checked() {
    let sim = sim().await;
    sim.add_rule(Rule::reply(vec![
        Step::reasoning("Plan: read the file."),
        Step::text("ok"),
    ]));
    let fr = frames(chat(&sim, &opus("Hi", Value::Null)).await).await;
    let (text, sig, _, _) = reasoning(&fr);
    let nested = |t: &str, s: Option<&str>| {
        let mut rt = json!({"text": t});
        if let Some(s) = s {
            rt["signature"] = json!(s);
        }
        json!({"content": "ok", "reasoningContent": {"reasoningText": rt}})
    };
    let mut tampered = sig.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &sig[..sig.len() / 2];
    const SIG_INVALID: (&str, &str) = (
        "Invalid `signature` in `thinking` block",
        "THINKING_SIGNATURE_INVALID",
    );
    const BODY_INVALID: (&str, &str) = ("Improperly formed request.", "REQUEST_BODY_INVALID");
    let table = [
        (nested(&text, Some(&sig)), None),
        (nested(&text, Some(&tampered)), Some(SIG_INVALID)),
        (nested(&text, Some(truncated)), Some(SIG_INVALID)),
        (
            nested("Plan: delete the file.", Some(&sig)),
            Some(SIG_INVALID),
        ),
        (nested(&text, None), Some(BODY_INVALID)),
        (
            json!({"content": "ok", "reasoningContent": text}),
            Some(BODY_INVALID),
        ),
        (
            json!({"content": "ok", "reasoningContent": text, "reasoningSignature": sig}),
            Some(BODY_INVALID),
        ),
        (
            json!({"content": "ok", "reasoningContent": {"reasoningText": {"text": text, "signature": sig}},
                   "reasoningSignature": sig}),
            Some(BODY_INVALID),
        ),
        (
            json!({"content": "ok", "reasoningContent": {}}),
            Some(BODY_INVALID),
        ),
        (json!({"content": "ok"}), None),
    ];
    for (assistant, want) in table {
        let resp = chat(&sim, &replay(assistant.clone())).await;
        match want {
            None => assert_eq!(resp.status(), 200, "{assistant}"),
            Some((message, reason)) => {
                assert_eq!(resp.status(), 400, "{assistant}");
                assert_eq!(
                    resp.json::<Value>().await.unwrap(),
                    json!({"message": message, "reason": reason}),
                    "{assistant}"
                );
            }
        }
    }
}
