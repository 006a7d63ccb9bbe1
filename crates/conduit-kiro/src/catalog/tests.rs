use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use crate::accounts::ManualClock;

fn list(ids: &[&str]) -> ModelList {
    let body = json!({"models": ids.iter().map(|id| json!({"modelId": id})).collect::<Vec<_>>()});
    ModelList {
        models: parse(&body).unwrap().models,
        live: true,
    }
}

fn ids(list: &ModelList) -> Vec<&str> {
    list.models.iter().map(|m| m.model_id.as_str()).collect()
}

fn catalog(accounts: usize) -> (Catalog, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    (Catalog::new(accounts, DEFAULT_TTL, clock.clone()), clock)
}

/// The answer captured in spec §9.7 (TKP), trimmed to three models.
#[test]
fn parses_a_list_available_models_answer() {
    let body = json!({
        "defaultModel": {"modelId": "auto", "modelName": "Auto"},
        "models": [
            {"modelId": "auto", "modelName": "Auto", "description": "picks a model",
             "rateMultiplier": 1.0, "rateUnit": "Credit", "supportedInputTypes": ["TEXT"],
             "tokenLimits": {"maxInputTokens": 1_000_000, "maxOutputTokens": 64_000},
             "promptCaching": {"supportsPromptCaching": true, "maximumCacheCheckpointsPerRequest": 4,
                               "minimumTokensPerCacheCheckpoint": 1024}},
            {"modelId": "claude-sonnet-5", "modelName": "Claude Sonnet 5", "rateMultiplier": 1.3,
             "supportedInputTypes": ["TEXT", "IMAGE"],
             "tokenLimits": {"maxInputTokens": 1_000_000, "maxOutputTokens": 64_000},
             "additionalModelRequestFieldsSchema": {"type": "object", "properties": {}}},
            {"modelId": "claude-opus-5", "tokenLimits": {"maxInputTokens": 1_000_000, "maxOutputTokens": 128_000},
             "additionalModelRequestFieldsSchema": "{\"type\":\"object\",\"properties\":{\"output_config\":{\"type\":\"object\"}},\"additionalProperties\":false}"},
            {"modelName": "no id, skipped"},
            {"modelId": "claude-haiku-4.5"}
        ],
        "nextToken": "page-2"
    });
    insta::assert_debug_snapshot!(parse(&body).unwrap());
    assert!(parse(&json!({"message": "nope"})).is_err());
}

#[tokio::test]
async fn an_answer_is_kept_for_the_ttl_then_fetched_again() {
    let (catalog, clock) = catalog(1);
    let calls = AtomicUsize::new(0);
    let fetch = |ids: &'static [&'static str]| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok(list(ids)) }
    };
    assert!(!catalog.merged().live, "the static table until an answer");
    catalog
        .refresh_with(0, || fetch(&["auto", "claude-opus-5"]))
        .await;
    catalog.refresh_with(0, || fetch(&["auto"])).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    clock.advance(DEFAULT_TTL - Duration::from_secs(1));
    catalog.refresh_with(0, || fetch(&["auto"])).await;
    assert_eq!(ids(&catalog.merged()), ["auto", "claude-opus-5"]);
    clock.advance(Duration::from_secs(1));
    catalog
        .refresh_with(0, || fetch(&["auto", "claude-opus-5", "claude-opus-5.1"]))
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        ids(&catalog.merged()),
        ["auto", "claude-opus-5", "claude-opus-5.1"]
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_answer_and_waits_before_retrying() {
    let (catalog, clock) = catalog(1);
    let calls = AtomicUsize::new(0);
    let fail = || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err(Error::new(ErrorKind::Overloaded, "down")) }
    };
    catalog.refresh_with(0, fail).await;
    assert!(!catalog.merged().live);
    catalog.refresh_with(0, fail).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry within the delay");
    clock.advance(RETRY_AFTER_FAILURE);
    catalog
        .refresh_with(0, || async { Ok(list(&["claude-sonnet-5"])) })
        .await;
    assert_eq!(ids(&catalog.merged()), ["claude-sonnet-5"]);
    clock.advance(DEFAULT_TTL);
    catalog.refresh_with(0, fail).await;
    assert_eq!(
        ids(&catalog.merged()),
        ["claude-sonnet-5"],
        "last good kept"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch_per_account() {
    let (catalog, _clock) = catalog(2);
    let calls = AtomicUsize::new(0);
    let gate = tokio::sync::Notify::new();
    let fetch = || {
        calls.fetch_add(1, Ordering::SeqCst);
        async {
            gate.notified().await;
            Ok(list(&["auto"]))
        }
    };
    let waiters = futures::future::join_all((0..8).map(|i| catalog.refresh_with(i % 2, fetch)));
    let release = async {
        tokio::task::yield_now().await;
        gate.notify_waiters();
        tokio::task::yield_now().await;
        gate.notify_waiters();
    };
    tokio::join!(waiters, release);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one fetch per account");
}

#[test]
fn merged_lists_union_the_accounts_first_wins() {
    let (catalog, _clock) = catalog(2);
    for (i, ids) in [
        (0, ["auto", "claude-opus-5"]),
        (1, ["claude-opus-5", "claude-sonnet-5"]),
    ] {
        let mut l = list(&ids);
        for m in &mut l.models {
            m.max_input_tokens = 100 + i as u32;
        }
        let mut st = catalog.state(i).unwrap();
        st.list = Some(Arc::new(l));
    }
    let merged = catalog.merged();
    assert_eq!(ids(&merged), ["auto", "claude-opus-5", "claude-sonnet-5"]);
    assert_eq!(merged.get("claude-opus-5").unwrap().max_input_tokens, 100);
}

/// Once an account has answered, callers arriving during a refresh use that answer at once.
#[tokio::test]
async fn callers_during_a_refresh_use_the_last_answer_without_waiting() {
    let (catalog, clock) = catalog(1);
    catalog
        .refresh_with(0, || async { Ok(list(&["auto"])) })
        .await;
    clock.advance(DEFAULT_TTL);
    let gate = tokio::sync::Notify::new();
    let slow = catalog.refresh_with(0, || async {
        gate.notified().await;
        Ok(list(&["auto", "claude-opus-5"]))
    });
    let other = async {
        tokio::task::yield_now().await;
        catalog
            .refresh_with(0, || async { panic!("a second fetch") })
            .await;
        let seen = ids(&catalog.merged()).join(",");
        gate.notify_waiters();
        seen
    };
    let ((), seen) = tokio::join!(slow, other);
    assert_eq!(seen, "auto");
    assert_eq!(ids(&catalog.merged()), ["auto", "claude-opus-5"]);
}
