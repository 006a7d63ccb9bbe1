//! The model catalogue (spec §9.4, §9.7): ListAvailableModels, runtime changes over
//! `/_sim/models`, `additionalModelRequestFields` against each schema, adaptive delay, overflow.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use conduit_sim::{Account, AccountKind, ConfigPatch, ModelInfo, Profile};
use serde_json::{json, Value};

async fn models(sim: &conduit_sim::SimHandle) -> Value {
    client()
        .get(format!(
            "{}/ListAvailableModels?origin=AI_EDITOR",
            sim.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn find<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["modelId"] == id)
}

#[tokio::test]
async fn default_catalogue_has_limits_rates_and_schemas() {
    let sim = sim().await;
    let list = models(&sim).await;
    assert_eq!(list["defaultModel"]["modelId"], "auto");
    // (id, maxInput, maxOutput, rate, has schema)
    let table = [
        ("auto", 1_000_000, 64_000, 1.0, false),
        ("claude-sonnet-4", 200_000, 64_000, 1.3, false),
        ("claude-sonnet-4.5", 200_000, 64_000, 1.3, false),
        ("claude-haiku-4.5", 200_000, 64_000, 0.4, false),
        ("claude-opus-4.5", 200_000, 64_000, 2.2, false),
        ("claude-sonnet-4.6", 1_000_000, 64_000, 1.3, true),
        ("claude-opus-4.6", 1_000_000, 64_000, 2.2, true),
        ("claude-opus-4.7", 1_000_000, 64_000, 2.2, true),
        ("claude-opus-4.8", 1_000_000, 64_000, 2.2, true),
        ("claude-sonnet-5", 1_000_000, 64_000, 1.3, true),
        ("claude-opus-5", 1_000_000, 128_000, 2.2, true),
    ];
    for (id, input, output, rate, schema) in table {
        let m = find(&list, id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(m["tokenLimits"]["maxInputTokens"], input, "{id}");
        assert_eq!(m["tokenLimits"]["maxOutputTokens"], output, "{id}");
        assert_eq!(m["rateMultiplier"], rate, "{id}");
        assert_eq!(m["rateUnit"], "Credit");
        assert_eq!(m["promptCaching"]["supportsPromptCaching"], true);
        assert_eq!(
            m.get("additionalModelRequestFieldsSchema").is_some(),
            schema,
            "{id}"
        );
    }
    let opus5 = &find(&list, "claude-opus-5").unwrap()["additionalModelRequestFieldsSchema"];
    assert_eq!(opus5["additionalProperties"], false);
    assert_eq!(
        opus5["properties"]["output_config"]["properties"]["effort"]["enum"],
        json!(["low", "medium", "high", "xhigh", "max"])
    );
    assert_eq!(opus5["properties"]["thinking"]["required"], json!(["type"]));
    assert_eq!(
        find(&list, "claude-sonnet-5").unwrap()["additionalModelRequestFieldsSchema"],
        json!({"type": "object", "properties": {}})
    );
}

#[tokio::test]
async fn models_can_be_added_replaced_and_removed_at_runtime() {
    let sim = sim().await;
    let base = sim.base_url();
    let new = json!({"modelId": "claude-fable-5", "tokenLimits":
        {"maxInputTokens": 1_000_000, "maxOutputTokens": 64_000}, "rateMultiplier": 3.0});
    let r = client()
        .post(format!("{base}/_sim/models"))
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = find(&models(&sim).await, "claude-fable-5")
        .cloned()
        .unwrap();
    assert_eq!(m["rateMultiplier"], 3.0);
    assert_eq!(m["modelName"], "claude-fable-5");
    let mut body = request("Hi");
    body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] =
        json!("claude-fable-5");
    assert_eq!(chat(&sim, &body).await.status(), 200);
    // Replace by id.
    sim.add_model(ModelInfo::new("claude-fable-5", 500_000, 32_000, 2.0));
    let m = find(&models(&sim).await, "claude-fable-5")
        .cloned()
        .unwrap();
    assert_eq!(m["tokenLimits"]["maxInputTokens"], 500_000);
    let r = client()
        .delete(format!("{base}/_sim/models/claude-fable-5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(find(&models(&sim).await, "claude-fable-5").is_none());
    let resp = chat(&sim, &body).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["reason"],
        "INVALID_MODEL_ID"
    );
    let r = client()
        .delete(format!("{base}/_sim/models/claude-fable-5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

fn with_fields(model: &str, fields: Value) -> Value {
    let mut body = request("Hi");
    body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] = json!(model);
    body["additionalModelRequestFields"] = fields;
    body
}

const UNSUPPORTED: &str = "additionalModelRequestFields is not supported for this model";
const INVALID: &str = "Invalid additionalModelRequestFields";

#[tokio::test]
async fn additional_fields_are_checked_against_the_model_schema() {
    let sim = sim().await;
    let effort = |e: &str| json!({"output_config": {"effort": e}});
    let table = [
        ("claude-sonnet-4.5", effort("high"), UNSUPPORTED),
        ("claude-opus-4.5", effort("high"), UNSUPPORTED),
        ("claude-haiku-4.5", json!({}), UNSUPPORTED),
        ("auto", effort("low"), UNSUPPORTED),
        ("claude-sonnet-4.6", effort("high"), ""),
        ("claude-sonnet-4.6", effort("xhigh"), INVALID),
        ("claude-opus-4.6", effort("max"), INVALID),
        ("claude-opus-4.7", effort("xhigh"), ""),
        ("claude-opus-4.8", effort("max"), ""),
        (
            "claude-opus-4.7",
            json!({"thinking": {"type": "adaptive"}}),
            INVALID,
        ),
        ("claude-sonnet-5", json!({}), ""),
        ("claude-sonnet-5", effort("high"), INVALID),
        ("claude-opus-5", effort("max"), ""),
        (
            "claude-opus-5",
            json!({"max_tokens": 2048, "output_config": {"effort": "low"}}),
            "",
        ),
        ("claude-opus-5", json!({"max_tokens": 512}), INVALID),
        (
            "claude-opus-5",
            json!({"thinking": {"type": "enabled"}}),
            INVALID,
        ),
        (
            "claude-opus-5",
            json!({"thinking": {"display": "omitted"}}),
            INVALID,
        ),
        ("claude-opus-5", json!({"top_k": 5}), INVALID),
        (
            "claude-opus-5",
            json!({"thinking": {"type": "disabled"}}),
            "",
        ),
    ];
    for (model, fields, message) in table {
        let resp = chat(&sim, &with_fields(model, fields.clone())).await;
        if message.is_empty() {
            assert_eq!(resp.status(), 200, "{model} {fields}");
        } else {
            assert_eq!(resp.status(), 400, "{model} {fields}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body,
                json!({"message": message, "reason": null}),
                "{model} {fields}"
            );
        }
    }
    // null counts as absent.
    let resp = chat(&sim, &with_fields("claude-sonnet-4.5", Value::Null)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn external_idp_accounts_refuse_any_additional_fields() {
    let sim = sim().await;
    let arn = "arn:aws:codewhisperer:us-east-1:111122223333:profile/ENTRA";
    sim.add_account(
        Account::new("entra", "entra-refresh")
            .with_kind(AccountKind::ExternalIdp)
            .with_profiles(vec![Profile::new(arn)]),
    );
    let mut body = with_fields(
        "claude-opus-5",
        json!({"output_config": {"effort": "high"}}),
    );
    body["profileArn"] = json!(arn);
    let resp = client()
        .post(format!("{}/generateAssistantResponse", sim.base_url()))
        .bearer_auth("entra")
        .header("tokentype", "EXTERNAL_IDP")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["message"], UNSUPPORTED);
}

#[tokio::test]
async fn adaptive_thinking_delays_the_first_byte() {
    let sim = sim().await;
    sim.configure(ConfigPatch {
        adaptive_delay_ms: Some(400),
        ..ConfigPatch::default()
    });
    let start = Instant::now();
    let resp = chat(
        &sim,
        &with_fields("claude-opus-5", json!({"thinking": {"type": "adaptive"}})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(400));
    let start = Instant::now();
    let resp = chat(
        &sim,
        &with_fields(
            "claude-opus-5",
            json!({"output_config": {"effort": "high"}}),
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn input_over_the_model_window_is_too_long() {
    let sim = sim().await;
    sim.add_model(ModelInfo::new("claude-tiny", 200, 100, 1.0));
    let small = with_fields("claude-tiny", Value::Null);
    assert_eq!(chat(&sim, &small).await.status(), 200);
    let mut big = small.clone();
    big["conversationState"]["currentMessage"]["userInputMessage"]["content"] =
        json!("x".repeat(800));
    let resp = chat(&sim, &big).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"})
    );
}
