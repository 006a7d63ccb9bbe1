//! Usage events (spec §9.5): `meteringEvent` credits from the model's rate, `metadataEvent`
//! token counts, per-account credit totals.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::{ConfigPatch, Rule, Step, DEFAULT_TEXT};
use serde_json::{json, Value};

fn with_model(content: &str, model: &str) -> Value {
    let mut body = request(content);
    body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] = json!(model);
    body
}

fn event<'a>(frames: &'a [Frame], kind: &str) -> Option<&'a Value> {
    frames.iter().find(|f| f.kind == kind).map(|f| &f.payload)
}

#[tokio::test]
async fn metering_and_token_usage_follow_the_documented_formula() {
    let sim = sim().await;
    // (model, content, expected credits)
    let long = "y".repeat(5000);
    let table = [
        ("claude-sonnet-4.5", "Hi", 0.013),
        ("claude-opus-5", "Hi", 0.022),
        ("claude-haiku-4.5", "Hi", 0.004),
        ("auto", "Hi", 0.01),
        // ~1330 input tokens → 2 started thousands.
        ("claude-sonnet-4.5", long.as_str(), 0.026),
    ];
    for (model, content, credits) in table {
        let body = with_model(content, model);
        let fr = frames(chat(&sim, &body).await).await;
        let metering = event(&fr, "meteringEvent").unwrap();
        assert_eq!(
            metering,
            &json!({"unit": "credit", "unitPlural": "credits", "usage": credits}),
            "{model}"
        );
        let usage = &event(&fr, "metadataEvent").unwrap()["tokenUsage"];
        let input = body.to_string().chars().count().div_ceil(4);
        let output = DEFAULT_TEXT.len().div_ceil(4);
        assert_eq!(
            usage,
            &json!({"uncachedInputTokens": input, "outputTokens": output,
                    "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}),
            "{model}"
        );
        assert_eq!(fr.last().unwrap().kind, "metadataEvent");
    }
    let total = 0.013 + 0.022 + 0.004 + 0.01 + 0.026;
    assert!((sim.credits(TOKEN).unwrap() - total).abs() < 1e-9);
}

#[tokio::test]
async fn token_usage_can_be_switched_off_and_metering_overridden() {
    let sim = sim().await;
    sim.configure(ConfigPatch {
        token_usage: Some(false),
        ..ConfigPatch::default()
    });
    sim.add_rule(Rule::reply(vec![Step::text("a"), Step::Metering { metering: 0.5 }]).times(1));
    let fr = frames(chat(&sim, &request("Hi")).await).await;
    assert_eq!(
        kinds(&fr),
        [
            "assistantResponseEvent",
            "meteringEvent",
            "contextUsageEvent"
        ]
    );
    assert_eq!(event(&fr, "meteringEvent").unwrap()["usage"], 0.5);
    // A cut stream sends no metering and charges nothing.
    sim.add_rule(Rule::reply(vec![Step::text("b"), Step::cut()]));
    let (_, failed) = read_until_error(chat(&sim, &request("Hi")).await).await;
    assert!(failed);
    let credits: Value = client()
        .get(format!("{}/_sim/accounts/credits", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = credits["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["access_token"] == TOKEN)
        .unwrap();
    assert_eq!(row["credits"], 0.5);
    assert_eq!(row["chat_requests"], 2);
    assert_eq!(row["kind"], "social");
}
