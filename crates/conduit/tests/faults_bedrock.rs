//! Fault injection on the Bedrock path: seeded requests in every dialect through a gateway whose
//! config file puts Bedrock (us-east-1) before Kiro, while the simulated Bedrock runtime throttles,
//! answers 503 and ModelNotReady, raises in-band exceptions mid-stream, cuts streams, stalls, and
//! clients hang up. Every answer must be well-formed in the client's dialect, within a bound, with
//! no panic and no upstream stream left open. `FAULT_SEED` replays a run; `FAULT_N_BEDROCK` sets
//! its size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod cli_support;
mod fault_support;
mod harness;

use std::time::{Duration, Instant};

use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{BedrockFault, FaultKind};
use fault_support::wellformed::{check, Dialect, Outcome};
use futures::StreamExt;
use harness::{Gateway, Options, KEY};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const REQUEST_BOUND: Duration = Duration::from_secs(15);
const IN_FLIGHT: usize = 16;

const CONFIG: &str = r#"
[[upstreams]]
name = "bedrock-east"
kind = "bedrock"
region = "us-east-1"
endpoint = "{sim}/region/us-east-1"

[[upstreams]]
name = "kiro"
kind = "kiro"

[[routes]]
models = ["claude-*"]
upstreams = ["bedrock-east", "kiro"]

[router]
cooldown_seconds = 1
"#;

const DIALECTS: [Dialect; 5] = [
    Dialect::AnthropicSse,
    Dialect::AnthropicJson,
    Dialect::ChatSse,
    Dialect::ChatJson,
    Dialect::ResponsesSse,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Throttle,
    Unavailable,
    ModelNotReady,
    StreamException,
    Cut,
    Reasoning,
    ToolUse,
    SlowThenHangUp,
}

const FAULTS: [Fault; 9] = [
    Fault::None,
    Fault::Throttle,
    Fault::Unavailable,
    Fault::ModelNotReady,
    Fault::StreamException,
    Fault::Cut,
    Fault::Reasoning,
    Fault::ToolUse,
    Fault::SlowThenHangUp,
];

/// One request: its dialect, its fault, how it ended (`Ok(None)`: the client left), how long.
type Ended = (Dialect, Fault, Result<Option<Outcome>, String>, Duration);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_requests_under_upstream_faults() {
    fault_support::count_panics();
    let seed = fault_support::seed();
    let total = fault_support::env_num("FAULT_N_BEDROCK", 600);
    let mut opts = Options {
        config: Some(CONFIG.to_owned()),
        ping_interval: Duration::from_millis(500),
        ..Options::default()
    };
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        opts.env.insert(k, v.to_owned());
    }
    let gw = harness::start_with(opts).await;
    gw.sim().configure(conduit_sim::ConfigPatch {
        log_limit: Some(500),
        ..Default::default()
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let plans: Vec<(Dialect, Fault)> = (0..total)
        .map(|_| {
            (
                DIALECTS[rng.random_range(0..DIALECTS.len())],
                FAULTS[rng.random_range(0..FAULTS.len())],
            )
        })
        .collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let results: Vec<Ended> = futures::stream::iter(plans.iter().enumerate())
        .map(|(n, &(dialect, fault))| {
            let (gw, http) = (&gw, &http);
            async move {
                let t = Instant::now();
                let r = tokio::time::timeout(REQUEST_BOUND, one(gw, http, n, dialect, fault))
                    .await
                    .unwrap_or_else(|_| Err(format!("no end within {REQUEST_BOUND:?}")));
                (dialect, fault, r, t.elapsed())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut bad = Vec::new();
    let (mut ok, mut err, mut left) = (0, 0, 0);
    for (dialect, fault, r, took) in &results {
        match r {
            Ok(Some(Outcome::Success)) => ok += 1,
            Ok(Some(Outcome::Error)) => err += 1,
            Ok(None) => left += 1,
            Err(e) => bad.push(format!("{dialect:?}/{fault:?} after {took:?}: {e}")),
        }
    }
    println!(
        "{total} Bedrock-path requests in {:.1} s: {ok} answered, {err} well-formed errors, \
         {left} abandoned by the client",
        started.elapsed().as_secs_f64()
    );
    assert!(
        bad.is_empty(),
        "{} malformed: {:#?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
    assert_eq!(fault_support::panics(), 0, "panics during the run");
    assert!(ok > total / 3, "too few successes: {ok} of {total}");
    // Every upstream stream is closed once its client finished or left.
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.sim().stats().active_responses > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        gw.sim().stats().active_responses,
        0,
        "upstream streams left open"
    );
}

/// Script request `n`'s fault, send it in `dialect`, judge the answer.
async fn one(
    gw: &Gateway,
    http: &reqwest::Client,
    n: usize,
    dialect: Dialect,
    fault: Fault,
) -> Result<Option<Outcome>, String> {
    let text = format!("bedrock fault request {n}");
    let fault_of = |kind| BedrockFault::new(kind).region("us-east-1").times(1);
    match fault {
        Fault::None => {}
        Fault::Throttle => gw.sim().add_bedrock_fault(fault_of(FaultKind::Throttle)),
        Fault::Unavailable => gw.sim().add_bedrock_fault(fault_of(FaultKind::Unavailable)),
        Fault::ModelNotReady => gw
            .sim()
            .add_bedrock_fault(fault_of(FaultKind::ModelNotReady)),
        Fault::StreamException => gw.sim().add_bedrock_fault(
            fault_of(FaultKind::StreamException)
                .exception("modelStreamErrorException")
                .after_events(n % 4),
        ),
        Fault::Cut => {
            rule(
                gw,
                &text,
                json!([{"text": "partial answer", "chunk": 4}, {"cut": true}]),
            )
            .await
        }
        Fault::Reasoning => {
            rule(
                gw,
                &text,
                json!([{"reasoning": "Thinking it over.", "chunk": 5}, {"text": "Done."}]),
            )
            .await
        }
        Fault::ToolUse => {
            rule(
                gw,
                &text,
                json!([{"tool_use": {"name": "get_weather", "input": {"city": "Oslo"}}}]),
            )
            .await
        }
        Fault::SlowThenHangUp => {
            rule(
                gw,
                &text,
                json!([{"text": "first"}, {"delay_ms": 2000}, {"text": " late"}]),
            )
            .await
        }
    }
    let resp = request(gw, http, dialect, &text)
        .send()
        .await
        .map_err(|e| format!("no response: {e:#}"))?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if fault == Fault::SlowThenHangUp && status == 200 && dialect.streaming() {
        let mut body = resp.bytes_stream();
        if !matches!(body.next().await, Some(Ok(_))) {
            return Err("no first chunk before hanging up".into());
        }
        return Ok(None);
    }
    let body = resp
        .text()
        .await
        .map_err(|e| format!("status {status}: body cut: {e:#}"))?;
    check(dialect, status, &ctype, &body).map(Some)
}

async fn rule(gw: &Gateway, text: &str, reply: Value) {
    gw.rule(json!({"match": {"contains": text}, "times": 1, "reply": reply}))
        .await;
}

fn request(
    gw: &Gateway,
    http: &reqwest::Client,
    dialect: Dialect,
    text: &str,
) -> reqwest::RequestBuilder {
    let model = "claude-opus-4-7";
    let msgs = json!([{"role": "user", "content": text}]);
    let tools = json!([{"name": "get_weather", "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let (path, body) = match dialect {
        Dialect::AnthropicJson | Dialect::AnthropicSse => (
            "/v1/messages",
            json!({"model": model, "max_tokens": 512, "messages": msgs, "tools": tools,
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "stream": dialect == Dialect::AnthropicSse}),
        ),
        Dialect::ChatJson | Dialect::ChatSse => (
            "/v1/chat/completions",
            json!({"model": model, "messages": msgs, "stream": dialect == Dialect::ChatSse}),
        ),
        Dialect::ResponsesSse => (
            "/v1/responses",
            json!({"model": model, "input": text, "stream": true, "store": false}),
        ),
    };
    let rb = http.post(format!("{}{path}", gw.url)).json(&body);
    match dialect {
        Dialect::AnthropicJson | Dialect::AnthropicSse => rb
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01"),
        _ => rb.bearer_auth(KEY),
    }
}
