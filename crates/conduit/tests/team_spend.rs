//! Spend through the whole router over a real SQLite team store: exact ledger rows and costs
//! for the LiteLLM scenarios (#9812: cache writes charged once; #11789: streamed cache reads at
//! the read rate) on the canonical path and on the Messages lane, streamed and not; budgets
//! (the next request is refused, the stream in flight is not cut; the period resets on an
//! injected clock; a team pool covers its members' keys; count_tokens is never blocked); and
//! 10,000 requests leaving 10,000 rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use conduit_core::{CacheCreation, Event, RawEvent, Usage};
use conduit_store::{CredentialKind, NewSpendLimit, Role, SpendPeriod, SpendRow, SpendScope};
use conduit_testkit::{MessagesOutcome, Outcome};
use serde_json::{json, Value};
use team_support::{credential, system, user, Gateway, Setup};

const PORT: u16 = 8771;

async fn gateway(messages_lane: bool) -> Gateway {
    let (dir, store) = team_support::temp_store().await;
    let setup = Setup {
        port: PORT,
        messages_lane: messages_lane.then_some(7),
        ..Setup::default()
    };
    let gw = team_support::gateway(dir, store, setup).await;
    // Keep the cache synced as `serve` does: a test slowed down by a loaded machine must not
    // meet the cache's fail-closed staleness bound (3 s without a sync).
    let _sync = conduit::team::sync::spawn(
        gw.store.clone(),
        gw.team.cache.clone(),
        tokio_util::sync::CancellationToken::new(),
    );
    gw
}

/// A member (in `team`, if given) and a key of theirs: `(user id, key secret)`.
async fn member(gw: &Gateway, subject: &str, team: Option<&str>) -> (String, String) {
    let id = user(&gw.store, subject, Role::Member, None).await;
    if let Some(team) = team {
        gw.store
            .set_user_team(&id, Some(team), &system())
            .await
            .unwrap();
    }
    let (secret, _) = credential(&gw.store, CredentialKind::Key, &id, None, None).await;
    gw.team.cache.sync_now(&gw.store).await.unwrap();
    (id, secret)
}

async fn limit(gw: &Gateway, scope: SpendScope, scope_id: &str, cents: i64) {
    let new = NewSpendLimit {
        scope_type: scope,
        scope_id: scope_id.into(),
        period: SpendPeriod::Daily,
        amount_cents: Some(cents),
        currency: "USD".into(),
        is_enabled: true,
    };
    gw.store.upsert_spend_limit(&new, &system()).await.unwrap();
    gw.team.spend.reload(&gw.store).await.unwrap();
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Dialect {
    Anthropic,
    OpenAi,
}

fn request(dialect: Dialect, key: &str, model: &str, stream: bool) -> Request<Body> {
    let (path, body) = match dialect {
        Dialect::Anthropic => (
            "/v1/messages",
            json!({"model": model, "max_tokens": 64, "stream": stream,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
        Dialect::OpenAi => (
            "/v1/chat/completions",
            json!({"model": model, "stream": stream,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
    };
    Request::post(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", key)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A canonical text turn that ends with `usage`.
fn turn_with(usage: Usage) -> Outcome {
    let mut events = conduit_testkit::text_turn("Hello there.");
    if let Some(Event::MessageEnd { usage: u, .. }) = events.last_mut() {
        *u = usage;
    }
    Outcome::Events(events)
}

fn raw(name: &str, data: Value) -> RawEvent {
    RawEvent {
        name: name.into(),
        data: Bytes::from(data.to_string()),
    }
}

/// A Messages-lane stream as Anthropic sends it: input and cache counts in `message_start`
/// (with a small initial output), the cumulative usage in `message_delta`.
fn lane_stream(model: &str, start: Value, delta: Value) -> MessagesOutcome {
    MessagesOutcome::Stream(vec![
        raw(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1",
            "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": start}}),
        ),
        raw(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        raw(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Hello there."}}),
        ),
        raw(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        raw(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": delta}),
        ),
        raw("message_stop", json!({"type": "message_stop"})),
    ])
}

fn lane_json(model: &str, usage: Value) -> MessagesOutcome {
    MessagesOutcome::Json(Bytes::from(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": "Hello there."}],
               "stop_reason": "end_turn", "stop_sequence": null, "usage": usage})
        .to_string(),
    ))
}

/// Write what waits and read every ledger row, oldest first.
async fn rows(gw: &Gateway) -> Vec<SpendRow> {
    let spend = &gw.team.spend;
    spend.ledger.flush(&gw.store, &spend.totals).await.unwrap();
    gw.store
        .spend_rows(None, 0, i64::MAX, 100_000)
        .await
        .unwrap()
}

/// The counters and cost of a row: what must not differ between paths.
fn money(r: &SpendRow) -> (i64, i64, i64, i64, i64, Option<i64>) {
    (
        r.input_tokens,
        r.cache_write_5m,
        r.cache_write_1h,
        r.cache_read,
        r.output_tokens,
        r.cost_nanos,
    )
}

#[tokio::test]
async fn litellm_9812_cache_writes_are_charged_once_on_every_path() {
    // Claude 3.7 Sonnet, usage input 3, cache_creation 12304 (5m), read 0, output 550:
    // 3 × $3 + 12304 × $3.75 + 550 × $15 per MTok = $0.054399 (LiteLLM charged $0.091311).
    let model = "claude-3-7-sonnet-20250219";
    let want = (3, 12_304, 0, 0, 550, Some(54_399_000));
    let canonical = Usage {
        input_tokens: 3,
        cache_creation_input_tokens: 12_304,
        output_tokens: 550,
        ..Usage::default()
    };
    let wire = json!({"input_tokens": 3, "cache_creation_input_tokens": 12304,
                      "cache_read_input_tokens": 0, "output_tokens": 550});
    let start = json!({"input_tokens": 3, "cache_creation_input_tokens": 12304,
                       "cache_read_input_tokens": 0, "output_tokens": 1});
    // (path, dialect, streamed)
    for (case, dialect, stream) in [
        ("canonical json", Dialect::OpenAi, false),
        ("canonical stream", Dialect::OpenAi, true),
        ("lane json", Dialect::Anthropic, false),
        ("lane stream", Dialect::Anthropic, true),
    ] {
        let gw = gateway(true).await;
        let (_, key) = member(&gw, "alice", None).await;
        match (dialect, stream) {
            (Dialect::OpenAi, _) => {
                gw.upstream.push(turn_with(canonical));
            }
            (Dialect::Anthropic, false) => {
                gw.upstream.push_messages(lane_json(model, wire.clone()));
            }
            (Dialect::Anthropic, true) => {
                gw.upstream
                    .push_messages(lane_stream(model, start.clone(), wire.clone()));
            }
        }
        let answer = team_support::send(&gw.app, request(dialect, &key, model, stream)).await;
        assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.text);
        let rows = rows(&gw).await;
        assert_eq!(rows.len(), 1, "{case}");
        assert_eq!(money(&rows[0]), want, "{case}");
        assert_eq!(rows[0].model, model, "{case}");
        assert_eq!(
            rows[0].priced_by.as_deref(),
            Some("list:claude-3-7-sonnet"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn litellm_11789_streamed_cache_reads_cost_the_read_rate() {
    // Claude 3.5 Haiku, 3 input, 2455 cache reads, 23 output: $0.0002908 streamed and not
    // (LiteLLM billed the streamed reads at the input rate: $0.002059).
    let model = "claude-3-5-haiku-20241022";
    let start = json!({"input_tokens": 3, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 2455, "output_tokens": 1});
    // message_delta repeats the cumulative usage: the last value wins, nothing is added.
    let end = json!({"input_tokens": 3, "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 2455, "output_tokens": 23});
    // Or carries only the output (Bedrock, older Anthropic): the start's counts stand.
    let output_only = json!({"output_tokens": 23});
    let want = (3, 0, 0, 2455, 23, Some(290_800));
    for (case, outcome) in [
        (
            "stream, cumulative delta",
            lane_stream(model, start.clone(), end.clone()),
        ),
        (
            "stream, output-only delta",
            lane_stream(model, start.clone(), output_only),
        ),
        ("json", lane_json(model, end.clone())),
    ] {
        let gw = gateway(true).await;
        let (_, key) = member(&gw, "alice", None).await;
        gw.upstream.push_messages(outcome);
        let stream = case.starts_with("stream");
        let answer =
            team_support::send(&gw.app, request(Dialect::Anthropic, &key, model, stream)).await;
        assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.text);
        let rows = rows(&gw).await;
        assert_eq!(rows.len(), 1, "{case}");
        assert_eq!(money(&rows[0]), want, "{case}");
    }
}

#[tokio::test]
async fn both_cache_write_ttls_are_priced_at_their_own_rates() {
    // Sonnet 4.x: 5m writes $3.75, 1h writes $6 per MTok.
    let gw = gateway(false).await;
    let (_, key) = member(&gw, "alice", None).await;
    gw.upstream.push(turn_with(Usage {
        input_tokens: 1_000,
        cache_creation_input_tokens: 3_000,
        cache_creation: Some(CacheCreation {
            ephemeral_5m_input_tokens: 1_000,
            ephemeral_1h_input_tokens: 2_000,
        }),
        cache_read_input_tokens: 10_000,
        output_tokens: 100,
        ..Usage::default()
    }));
    let answer = team_support::send(
        &gw.app,
        request(Dialect::OpenAi, &key, "claude-sonnet-4-6", false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let rows = rows(&gw).await;
    // 1000×3 + 1000×3.75 + 2000×6 + 10000×0.30 + 100×15 = 23,250 µ$.
    assert_eq!(
        money(&rows[0]),
        (1_000, 1_000, 2_000, 10_000, 100, Some(23_250_000))
    );
}

/// A usage that costs $15.00003 on Sonnet 4.x (1M output tokens, 10 input).
fn fifteen_dollars() -> Outcome {
    turn_with(Usage {
        input_tokens: 10,
        output_tokens: 1_000_000,
        ..Usage::default()
    })
}

#[tokio::test]
async fn a_budget_blocks_the_next_request_not_the_stream_in_flight() {
    let gw = gateway(true).await;
    let (_, key) = member(&gw, "alice", None).await;
    limit(&gw, SpendScope::User, "alice", 2_000).await; // $20 a day
    let model = "claude-sonnet-4-6";

    // $0 of $20: admitted, and the stream runs to its end.
    gw.upstream.push(fifteen_dollars());
    let first = team_support::send(&gw.app, request(Dialect::OpenAi, &key, model, true)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(
        first.text.trim_end().ends_with("data: [DONE]"),
        "{}",
        first.text
    );
    assert_eq!(first.headers["x-conduit-budget-remaining-usd"], "20.000000");
    assert_eq!(
        first.headers["anthropic-ratelimit-unified-status"],
        "allowed"
    );

    // $15 of $20 (75%): admitted with a warning; this stream takes the spend past the cap and
    // still ends normally.
    gw.upstream.push(fifteen_dollars());
    let second = team_support::send(&gw.app, request(Dialect::OpenAi, &key, model, true)).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert!(second.text.trim_end().ends_with("data: [DONE]"));
    // $15 + 10 input tokens at $3/MTok.
    assert_eq!(second.headers["x-conduit-budget-remaining-usd"], "4.999970");
    assert_eq!(
        second.headers["anthropic-ratelimit-unified-status"],
        "allowed_warning"
    );

    // $30 of $20: refused in each dialect, before the upstream is called.
    let calls = gw.upstream.call_count();
    for dialect in [Dialect::Anthropic, Dialect::OpenAi] {
        let refused = team_support::send(&gw.app, request(dialect, &key, model, false)).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{dialect:?}");
        assert_eq!(refused.headers["x-should-retry"], "false");
        let retry: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=86_400).contains(&retry), "{retry}");
        let (kind, message) = match dialect {
            Dialect::Anthropic => (
                &refused.json["error"]["type"],
                refused.json["error"]["message"].as_str().unwrap(),
            ),
            Dialect::OpenAi => (
                &refused.json["error"]["type"],
                refused.json["error"]["message"].as_str().unwrap(),
            ),
        };
        assert_eq!(kind, "billing_error", "{dialect:?}: {}", refused.text);
        assert!(
            message.starts_with("spend limit reached (daily; resets ")
                && message.ends_with(" 00:00 UTC)"),
            "{message}"
        );
    }
    assert_eq!(
        gw.upstream.call_count(),
        calls,
        "refused before the upstream"
    );

    // count_tokens is never blocked.
    let count = Request::post("/v1/messages/count_tokens")
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("content-type", "application/json")
        .header("x-api-key", &key)
        .body(Body::from(
            json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string(),
        ))
        .unwrap();
    let counted = team_support::send(&gw.app, count).await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.text);

    // /me/spend says so.
    let me = Request::get("/me/spend")
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("x-api-key", &key)
        .body(Body::empty())
        .unwrap();
    let me = team_support::send(&gw.app, me).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["blocked"], true);
    assert_eq!(me.json["limits"][0]["spent_usd"], "30.000060");
    assert_eq!(me.json["limits"][0]["remaining_usd"], "0.000000");
}

#[tokio::test]
async fn the_period_resets_on_time() {
    let gw = gateway(false).await;
    let (_, key) = member(&gw, "alice", None).await;
    limit(&gw, SpendScope::User, "alice", 1_000).await; // $10 a day
                                                        // 2026-12-06 23:59:00 UTC.
    let now = Arc::new(AtomicI64::new(1_796_601_540));
    let clock = now.clone();
    gw.team
        .spend
        .set_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let model = "claude-sonnet-4-6";
    gw.upstream.push(fifteen_dollars());
    let spent = team_support::send(&gw.app, request(Dialect::OpenAi, &key, model, false)).await;
    assert_eq!(spent.status, StatusCode::OK);
    let refused = team_support::send(&gw.app, request(Dialect::OpenAi, &key, model, false)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers["retry-after"], "60");
    assert!(
        refused.text.contains("resets 2026-12-07 00:00 UTC"),
        "{}",
        refused.text
    );
    // One second into the next day: a new period.
    now.store(1_796_601_601, Ordering::SeqCst);
    let next = team_support::send(&gw.app, request(Dialect::OpenAi, &key, model, false)).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
}

#[tokio::test]
async fn a_team_budget_covers_every_members_keys() {
    let gw = gateway(false).await;
    let red = gw.store.create_team("red", &system()).await.unwrap().id;
    let blue = gw.store.create_team("blue", &system()).await.unwrap().id;
    let (_, alice) = member(&gw, "alice", Some(&red)).await;
    let (_, bob) = member(&gw, "bob", Some(&red)).await;
    let (_, carol) = member(&gw, "carol", Some(&blue)).await;
    limit(&gw, SpendScope::Team, &red, 1_000).await; // red pools $10 a day
    let model = "claude-sonnet-4-6";
    gw.upstream.push(fifteen_dollars());
    let spent = team_support::send(&gw.app, request(Dialect::OpenAi, &alice, model, false)).await;
    assert_eq!(spent.status, StatusCode::OK);
    for (who, key, status) in [
        ("alice", &alice, StatusCode::TOO_MANY_REQUESTS),
        ("bob, same team", &bob, StatusCode::TOO_MANY_REQUESTS),
        ("carol, other team", &carol, StatusCode::OK),
    ] {
        let answer = team_support::send(&gw.app, request(Dialect::OpenAi, key, model, false)).await;
        assert_eq!(answer.status, status, "{who}: {}", answer.text);
    }
}

#[tokio::test]
async fn ten_thousand_requests_leave_ten_thousand_rows() {
    let gw = gateway(false).await;
    let (_, key) = member(&gw, "alice", None).await;
    let spend = gw.team.spend.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let writer = conduit::team::spend::ledger::spawn(
        spend.ledger.clone(),
        spend.totals.clone(),
        gw.store.clone(),
        std::time::Duration::from_millis(50),
        stop.clone(),
    );
    let n = 10_000;
    let app = gw.app.clone();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let app = app.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in (w..n).step_by(8) {
                let a = team_support::send(
                    &app,
                    request(Dialect::OpenAi, &key, "claude-sonnet-4-6", false),
                )
                .await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.text);
                ok += 1;
                // In-process calls never wait, so without this one task would run its whole
                // loop in one poll and starve the cache's sync task (one thread here); after
                // 3 s without a sync the cache fails closed. A real server waits on its socket.
                tokio::task::yield_now().await;
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    assert_eq!(ok, n);
    stop.cancel();
    writer.await.unwrap();
    assert_eq!(spend.ledger.pending(), 0);
    let rows = gw
        .store
        .spend_rows(None, 0, i64::MAX, 20_000)
        .await
        .unwrap();
    assert_eq!(rows.len(), n);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "one row per request");
}
