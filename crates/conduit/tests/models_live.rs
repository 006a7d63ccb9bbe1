//! `/v1/models` is Kiro's live catalogue (ListAvailableModels, cached for `CONDUIT_MODELS_TTL`):
//! `[1m]` ids only where the window really is ≥ 1M, and a model Kiro adds shows up after the
//! TTL without a restart — listed, resolvable by name, and sent to Kiro under its own id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use harness::Options;
use serde_json::{json, Value};

const TTL: Duration = Duration::from_millis(1500);

async fn listed(gw: &harness::Gateway) -> HashMap<String, Value> {
    let v: Value = gw
        .get("/v1/models?limit=1000")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m.clone()))
        .collect()
}

fn window(m: &Value) -> u64 {
    m["context_window"].as_u64().unwrap()
}

#[tokio::test]
async fn one_million_ids_only_for_one_million_windows() {
    let gw = harness::start().await;
    let models = listed(&gw).await;
    for (id, m) in &models {
        if let Some(base) = id.strip_suffix("[1m]") {
            let plain = models
                .get(base)
                .unwrap_or_else(|| panic!("{id} without {base}"));
            assert!(window(plain) >= 1_000_000, "{id}: {plain}");
            assert_eq!(window(m), window(plain));
        } else if id.starts_with("claude-") {
            let wide = models.contains_key(&format!("{id}[1m]"));
            assert_eq!(wide, window(m) >= 1_000_000, "{id}: {m}");
        }
    }
    // The simulator's catalogue (spec §9.7): Opus 5 has 1M, Sonnet 4.5 200K.
    assert_eq!(window(&models["claude-opus-5"]), 1_000_000);
    assert!(
        models.contains_key("claude-opus-5[1m]"),
        "{:?}",
        models.keys()
    );
    assert!(models.contains_key("claude-sonnet-4-5"));
    assert!(!models.contains_key("claude-sonnet-4-5[1m]"));
}

#[tokio::test]
async fn a_model_added_to_kiro_appears_after_the_ttl_without_a_restart() {
    let gw = harness::start_with(Options {
        kiro: Some(|k| k.models_ttl = TTL),
        ..Default::default()
    })
    .await;
    let fetched = Instant::now();
    let before = listed(&gw).await;
    assert!(
        !before.contains_key("claude-opus-9-1"),
        "{:?}",
        before.keys()
    );

    let added = gw
        .http
        .post(format!("{}/_sim/models", gw.sim_url))
        .json(
            &json!({"modelId": "claude-opus-9.1", "modelName": "Claude Opus 9.1",
            "description": "added at runtime",
            "tokenLimits": {"maxInputTokens": 2_000_000, "maxOutputTokens": 128_000},
            "rateMultiplier": 3.0, "rateUnit": "Credit", "supportedInputTypes": ["TEXT"]}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        added.status().is_success(),
        "{}",
        added.text().await.unwrap()
    );
    if fetched.elapsed() < TTL / 2 {
        assert!(
            !listed(&gw).await.contains_key("claude-opus-9-1"),
            "the cached answer is used until the TTL is over"
        );
    }

    tokio::time::sleep(TTL.saturating_sub(fetched.elapsed()) + Duration::from_millis(300)).await;
    let after = listed(&gw).await;
    let new = after
        .get("claude-opus-9-1")
        .unwrap_or_else(|| panic!("{:?}", after.keys()));
    assert_eq!(window(new), 2_000_000);
    assert!(after.contains_key("claude-opus-9-1[1m]"));

    let one: Value = gw
        .get("/v1/models/claude-opus-9-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["context_window"], 2_000_000, "{one}");
    let (status, body) = gw
        .messages(json!({"model": "claude-opus-9-1", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hello new model"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = gw.chat_requests().await;
    let model_id = &sent.last().unwrap()["body"]["conversationState"]["currentMessage"]
        ["userInputMessage"]["modelId"];
    assert_eq!(model_id, "claude-opus-9.1");
}
