//! Stories of the live model catalogue against the simulator: a model added to Kiro's
//! ListAvailableModels shows up after the TTL without a restart, one fetch serves concurrent
//! callers, a failed refresh keeps the last good answer, and windows from the catalogue drive
//! the overflow errors Claude Code acts on. Time is a [`ManualClock`], never a sleep.

#![allow(
    clippy::unwrap_used,
    reason = "test stories: a panic is the failure report"
)]

mod client_harness;

use std::sync::Arc;
use std::time::Duration;

use client_harness::{Harness, Token, ACCESS};
use conduit_core::{ErrorKind, Message, Request, Upstream};
use conduit_kiro::accounts::ManualClock;
use conduit_kiro::upstream::KiroUpstream;
use conduit_sim::{errors, AccountUpdate, ModelInfo, Rule};

const MODELS: &str = "/ListAvailableModels";

fn upstream(h: &Harness) -> (KiroUpstream, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let up = KiroUpstream::with_clock(h.config(), clock.clone()).unwrap();
    (up, clock)
}

fn request(model: &str, text: &str, max_tokens: u32) -> Request {
    Request {
        model: model.into(),
        messages: vec![Message::user_text(text)],
        max_tokens: Some(max_tokens),
        stream: true,
        ..Request::default()
    }
}

async fn ids(up: &KiroUpstream) -> Vec<String> {
    up.list_models().await.into_iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn a_model_added_to_kiro_appears_after_the_ttl_without_a_restart() {
    let h = Harness::start(Token::Valid).await;
    let (up, clock) = upstream(&h);
    assert!(!ids(&up).await.contains(&"claude-opus-9".to_string()));
    h.sim
        .add_model(ModelInfo::new("claude-opus-9", 1_000_000, 128_000, 2.2));
    clock.advance(Duration::from_secs(3_599));
    assert!(!ids(&up).await.contains(&"claude-opus-9".to_string()));
    assert_eq!(h.sim.count(MODELS), 1, "one fetch within the TTL");
    clock.advance(Duration::from_secs(1));
    let entries = up.catalog_entries().await;
    let new = entries
        .iter()
        .find(|e| e.kiro_id == "claude-opus-9")
        .unwrap();
    assert_eq!(
        (
            new.id.as_str(),
            new.context_window,
            new.max_output_tokens,
            new.one_million
        ),
        ("claude-opus-9", 1_000_000, 128_000, true)
    );
    assert_eq!(h.sim.count(MODELS), 2);
    // The listing call never carries the profile ARN (the sim would refuse it).
    for entry in h.sim.log().iter().filter(|e| e.path == MODELS) {
        let query = entry.query.clone().unwrap_or_default();
        assert!(
            query.contains("origin=AI_EDITOR") && !query.contains("profileArn"),
            "{query}"
        );
    }
    // A Claude Code name of that family now goes to it.
    let stream = up
        .send(request("claude-opus-9-1[1m]", "hi", 1_000))
        .await
        .unwrap();
    conduit_core::collect(stream).await.unwrap();
    let chat = h
        .sim
        .log()
        .into_iter()
        .rfind(|e| e.path == "/generateAssistantResponse")
        .unwrap();
    assert_eq!(
        chat.body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"],
        "claude-opus-9"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let h = Harness::start(Token::Valid).await;
    let (up, _clock) = upstream(&h);
    let lists = futures::future::join_all((0..8).map(|_| up.list_models())).await;
    assert!(lists.iter().all(|l| l == &lists[0] && !l.is_empty()));
    assert_eq!(h.sim.count(MODELS), 1);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_answer() {
    let h = Harness::start(Token::Valid).await;
    let (up, clock) = upstream(&h);
    let before = up.catalog_entries().await;
    assert!(before.iter().all(|e| e.live));
    h.sim.update_account(AccountUpdate {
        access_token: Some(ACCESS.into()),
        suspended: Some(true),
        ..AccountUpdate::default()
    });
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(up.catalog_entries().await, before);
    assert_eq!(h.sim.count(MODELS), 2, "the refresh was tried");
    assert_eq!(up.catalog_entries().await, before);
    assert_eq!(h.sim.count(MODELS), 2, "and not again within a minute");
}

#[tokio::test]
async fn input_plus_max_tokens_over_the_window_is_refused_before_sending() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_model(ModelInfo::new("claude-sonnet-4.5", 2_000, 1_500, 1.3));
    let (up, _clock) = upstream(&h);
    let text = "word ".repeat(1_000);
    let err = match up.send(request("claude-sonnet-4-5", &text, 64_000)).await {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let input = up.count_tokens(&request("claude-sonnet-4-5", &text, 64_000));
    assert_eq!(
        err.message,
        format!(
            "input length and `max_tokens` exceed context limit: {input} + 1500 > 2000, \
             decrease input length or `max_tokens` and try again"
        )
    );
    assert!(matches!(
        err.kind,
        ErrorKind::ContextOverflow { max: 2_000, .. }
    ));
    assert_eq!(h.sim.chat_count(), 0);
    // With room for the reply it goes through.
    assert!(up
        .send(request("claude-sonnet-4-5", "hi", 100))
        .await
        .is_ok());
}

#[tokio::test]
async fn kiro_input_too_long_reads_as_prompt_is_too_long_over_the_catalogue_window() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::error(errors::input_too_long()));
    let (up, _clock) = upstream(&h);
    let window = up
        .catalog_entries()
        .await
        .into_iter()
        .find(|e| e.kiro_id == "claude-opus-5")
        .unwrap()
        .context_window;
    let err = match up.send(request("claude-opus-5-5", "hi", 1_000)).await {
        Err(e) => e,
        Ok(s) => conduit_core::collect(s).await.unwrap_err(),
    };
    assert_eq!(
        err.message,
        format!(
            "prompt is too long: {} tokens > {window} maximum",
            window + 1
        )
    );
}

/// count_tokens counts the Kiro body: the thinking tags and their note the conversion adds to
/// the prompt count too.
#[tokio::test]
async fn count_tokens_counts_the_converted_request() {
    let h = Harness::start(Token::Valid).await;
    let (up, _clock) = upstream(&h);
    let plain = request("claude-haiku-4-5", "hello", 100);
    let thinking = Request {
        thinking: conduit_core::Thinking::Enabled {
            budget_tokens: 2_000,
        },
        ..plain.clone()
    };
    let client_side = conduit_core::tokens::count_request(&thinking);
    assert!(up.count_tokens(&thinking) > up.count_tokens(&plain));
    assert!(up.count_tokens(&thinking) > client_side + 40);
}
