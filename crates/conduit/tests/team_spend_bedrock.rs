//! The ledger's exactness against Bedrock (the simulator's SigV4-checked runtime): one usage
//! fixture with every counter — uncached input, a 5-minute write, a 1-hour write, a cache read
//! and output — sent once streamed and once not, each on a fresh simulator, leaves identical
//! ledger rows whose counters are exactly the usage the client was told and whose cost is the
//! sum of each counter times its own Opus 4.7 rate, to the nano-dollar.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conduit::config::DebugMode;
use conduit_bedrock::{BedrockConfig, BedrockUpstream, Credentials};
use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{Sim, SimConfig};
use conduit_store::{CredentialKind, Role, SpendRow};
use conduit_upstream::sigv4::AwsCredentials;
use serde_json::{json, Value};
use team_support::{credential, user, Setup};

const PORT: u16 = 8772;
const MODEL: &str = "claude-opus-4-7";

fn text(t: &str, ttl: Option<&str>) -> Value {
    let mut b = json!({"type": "text", "text": t});
    if let Some(ttl) = ttl {
        b["cache_control"] = json!({"type": "ephemeral", "ttl": ttl});
    }
    b
}

fn body(content: Vec<Value>, stream: bool) -> Value {
    json!({"model": MODEL, "max_tokens": 256, "stream": stream,
           "system": [text(&"You are a careful assistant. ".repeat(20), None)],
           "messages": [{"role": "user", "content": content}]})
}

fn post(key: &str, body: &Value) -> Request<Body> {
    Request::post("/v1/messages")
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", key)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The usage a client saw: the body's, or the last `message_delta`'s of a stream.
fn client_usage(text: &str, stream: bool) -> Value {
    if !stream {
        let v: Value = serde_json::from_str(text).unwrap();
        return v["usage"].clone();
    }
    text.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|e| e["type"] == "message_delta")
        .unwrap()["usage"]
        .clone()
}

/// One team gateway over a fresh simulator's Bedrock: the earlier prompt (caches A for 5
/// minutes), then the grown one (reads A, writes B for 1 hour and C for 5 minutes); the grown
/// request's ledger row and the usage its client saw.
async fn grown_request(stream: bool) -> (SpendRow, Value) {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let mut config = BedrockConfig::new("bedrock", "us-east-1");
    config.endpoint = Some(sim.bedrock_endpoint("us-east-1"));
    let bedrock = BedrockUpstream::with_credentials(
        config,
        &|_| None,
        Credentials::fixed(AwsCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.into(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.into(),
            session_token: None,
        }),
    )
    .unwrap();
    let (_dir, store) = team_support::temp_store().await;
    let alice = user(&store, "alice", Role::Member, None).await;
    let (key, _) = credential(&store, CredentialKind::Key, &alice, None, None).await;
    let setup = Setup {
        port: PORT,
        ..Setup::default()
    };
    let team = team_support::team_state(&store, &setup).await;
    conduit::routes::local_only::allow_port(PORT);
    let state = team_support::app_state(Some(team.clone()), Arc::new(bedrock), DebugMode::Off);
    let app = conduit::routes::router(state);

    let a = "The first part of the document. ".repeat(40);
    let b = "The second part of the document. ".repeat(40);
    let c = "The third part. ".repeat(40);
    let earlier = body(vec![text(&a, Some("5m")), text("Hi.", None)], stream);
    let first = team_support::send(&app, post(&key, &earlier)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let grown = body(
        vec![
            text(&a, None),
            text(&b, Some("1h")),
            text(&c, Some("5m")),
            text("What does it say?", None),
        ],
        stream,
    );
    let second = team_support::send(&app, post(&key, &grown)).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let seen = client_usage(&second.text, stream);

    team.spend
        .ledger
        .flush(&store, &team.spend.totals)
        .await
        .unwrap();
    let rows = store.spend_rows(None, 0, i64::MAX, 10).await.unwrap();
    assert_eq!(rows.len(), 2, "one row per request");
    (rows[1].clone(), seen)
}

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test]
async fn streamed_and_unstreamed_bedrock_usage_give_identical_exact_rows() {
    let (json_row, json_seen) = grown_request(false).await;
    let (sse_row, sse_seen) = grown_request(true).await;
    for (row, seen, how) in [
        (&json_row, &json_seen, "json"),
        (&sse_row, &sse_seen, "stream"),
    ] {
        // Every counter is there, exactly as reported to the client.
        let split = &seen["cache_creation"];
        assert_eq!(row.input_tokens, n(seen, "input_tokens"), "{how}");
        assert_eq!(
            row.cache_write_5m,
            n(split, "ephemeral_5m_input_tokens"),
            "{how}"
        );
        assert_eq!(
            row.cache_write_1h,
            n(split, "ephemeral_1h_input_tokens"),
            "{how}"
        );
        assert_eq!(row.cache_read, n(seen, "cache_read_input_tokens"), "{how}");
        assert_eq!(row.output_tokens, n(seen, "output_tokens"), "{how}");
        for (name, v) in [
            ("input", row.input_tokens),
            ("write 5m", row.cache_write_5m),
            ("write 1h", row.cache_write_1h),
            ("read", row.cache_read),
            ("output", row.output_tokens),
        ] {
            assert!(v > 0, "{how}: {name} is {v}");
        }
        // Opus 4.x: $5 in, $25 out, $6.25 5m write, $10 1h write, $0.50 read per MTok, i.e.
        // 5,000 / 25,000 / 6,250 / 10,000 / 500 nano-dollars a token.
        let want = row.input_tokens * 5_000
            + row.output_tokens * 25_000
            + row.cache_write_5m * 6_250
            + row.cache_write_1h * 10_000
            + row.cache_read * 500;
        assert_eq!(row.cost_nanos, Some(want), "{how}");
        assert_eq!(row.upstream.as_deref(), Some("bedrock"), "{how}");
        assert!(
            row.upstream_model.as_deref().unwrap_or("").contains(MODEL),
            "{how}: {:?}",
            row.upstream_model
        );
        assert!(!row.estimated, "{how}: Bedrock reports exact counts");
    }
    let same = |r: &SpendRow| {
        (
            r.input_tokens,
            r.cache_write_5m,
            r.cache_write_1h,
            r.cache_read,
            r.output_tokens,
            r.cost_nanos,
            r.model.clone(),
            r.upstream_model.clone(),
            r.status,
        )
    };
    assert_eq!(same(&json_row), same(&sse_row), "streamed = not streamed");
}
