//! One fault-injection request: pick a fault and a dialect from the seeded RNG, script the
//! simulator for it, send it, read (or abandon) the answer and judge it.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::wellformed::{check, Dialect, Outcome};
use crate::harness::{Gateway, KEY};

/// The upstream behaviour one request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Ok,
    SlowStream,
    Throttled429Once,
    Error500Once,
    CutBeforeFirstFrameOnce,
    SlowFirstTokenOnce,
    Storm429,
    Storm500,
    CutMidStream,
    ExceptionMidStream,
    SlowFirstTokenAlways,
    ClientDisconnect,
    /// Native reasoning (`reasoningContentEvent` text, a signature in fragments) before the text.
    Reasoning,
    /// Redacted reasoning (`reasoningContentEvent` `redactedContent`) before the text.
    RedactedReasoning,
    /// `MODEL_TEMPORARILY_UNAVAILABLE` (500) once: retried.
    ModelUnavailableOnce,
    /// A 524 without a body once: failed fast, not retried.
    GatewayTimeout524Once,
    /// `TOOL_SCHEMA_INVALID`: a client error, never retried.
    ToolSchemaInvalid,
    /// `TOOL_USE_RESULT_MISMATCH` arriving as a 503: a client error, never retried.
    ToolMismatch503,
}

/// (fault, weight).
const FAULTS: [(Fault, u32); 18] = [
    (Fault::Ok, 22),
    (Fault::SlowStream, 5),
    (Fault::Throttled429Once, 9),
    (Fault::Error500Once, 6),
    (Fault::CutBeforeFirstFrameOnce, 4),
    (Fault::SlowFirstTokenOnce, 4),
    (Fault::Storm429, 7),
    (Fault::Storm500, 6),
    (Fault::CutMidStream, 8),
    (Fault::ExceptionMidStream, 6),
    (Fault::SlowFirstTokenAlways, 1),
    (Fault::ClientDisconnect, 8),
    (Fault::Reasoning, 6),
    (Fault::RedactedReasoning, 3),
    (Fault::ModelUnavailableOnce, 3),
    (Fault::GatewayTimeout524Once, 2),
    (Fault::ToolSchemaInvalid, 2),
    (Fault::ToolMismatch503, 2),
];

const DIALECTS: [Dialect; 5] = [
    Dialect::AnthropicSse,
    Dialect::AnthropicJson,
    Dialect::ChatSse,
    Dialect::ChatJson,
    Dialect::ResponsesSse,
];

/// What the request must end as when the credentials are healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Success,
    Error,
    /// The client walked away; nothing to judge.
    Abandoned,
}

impl Fault {
    pub fn expect(self) -> Expect {
        match self {
            Fault::Ok
            | Fault::SlowStream
            | Fault::Throttled429Once
            | Fault::Error500Once
            | Fault::CutBeforeFirstFrameOnce
            | Fault::SlowFirstTokenOnce
            | Fault::Reasoning
            | Fault::RedactedReasoning
            | Fault::ModelUnavailableOnce => Expect::Success,
            Fault::ClientDisconnect => Expect::Abandoned,
            _ => Expect::Error,
        }
    }
}

/// One planned request.
#[derive(Debug, Clone)]
pub struct Plan {
    pub n: usize,
    pub fault: Fault,
    pub dialect: Dialect,
    pub text_len: usize,
}

pub fn plan(rng: &mut StdRng, n: usize) -> Plan {
    let total: u32 = FAULTS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    let mut fault = Fault::Ok;
    for (f, w) in FAULTS {
        if pick < w {
            fault = f;
            break;
        }
        pick -= w;
    }
    let dialect = DIALECTS[rng.random_range(0..DIALECTS.len())];
    Plan {
        n,
        fault,
        dialect,
        text_len: rng.random_range(1..400),
    }
}

/// The persistent rules the storms and mid-stream faults use (matched by a marker word).
pub fn standing_rules() -> Vec<Value> {
    let text = "partial answer before the fault ".repeat(4);
    vec![
        json!({"id": "storm429", "match": {"contains": "fault-storm429"},
            "http_error": {"status": 429, "body": {"message": "Too many requests, please wait.", "reason": null}}}),
        json!({"id": "storm500", "match": {"contains": "fault-storm500"},
            "http_error": {"status": 500, "body": {"__type": "ServiceUnavailableException",
                "message": "The service is temporarily unavailable. Please try again later."}}}),
        json!({"id": "cut", "match": {"contains": "fault-cutmid"},
            "reply": [{"text": text, "chunk": 16}, {"cut": true}]}),
        json!({"id": "exception", "match": {"contains": "fault-exception"},
            "reply": [{"text": text, "chunk": 16},
                {"exception": {"type": "ThrottlingException", "message": "Too many requests, please wait."}}]}),
        json!({"id": "slowalways", "match": {"contains": "fault-slowalways"},
            "reply": [{"delay_ms": 3500}, {"text": "too late"}]}),
        json!({"id": "slowstream", "match": {"contains": "fault-slowstream"},
            "reply": [{"thinking": "let me see", "chunk": 4}, {"text": "slow "}, {"delay_ms": 120},
                {"text": "but "}, {"delay_ms": 120}, {"text": "steady"}]}),
        json!({"id": "reasoning", "match": {"contains": "fault-reasoning"},
            "reply": [{"reasoning": "thinking it over, step by step ", "signed": true},
                {"text": "a reasoned answer", "chunk": 5}]}),
        json!({"id": "redacted", "match": {"contains": "fault-redacted"},
            "reply": [{"redacted_reasoning": true}, {"text": "after redacted reasoning"}]}),
        json!({"id": "toolschema", "match": {"contains": "fault-toolschema"},
            "http_error": {"status": 400, "body": {"__type": "ValidationException",
                "message": "input_schema does not support oneOf, allOf, or anyOf at the top level",
                "reason": "TOOL_SCHEMA_INVALID"}}}),
        json!({"id": "mismatch503", "match": {"contains": "fault-mismatch503"},
            "http_error": {"status": 503, "error_type": "ServiceUnavailableException",
                "body": {"message": "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_x",
                    "reason": "TOOL_USE_RESULT_MISMATCH"}}}),
        // Long enough that a stream nobody cancelled would still be open when the run ends.
        json!({"id": "disconnect", "match": {"contains": "fault-disconnect"},
            "reply": [{"text": "first words "}, {"delay_ms": 60_000}, {"text": "never read"}]}),
    ]
}

/// A marker for the request's fault, plus a one-shot rule for the faults that happen once.
fn script(gw: &Gateway, plan: &Plan) -> String {
    let marker = format!("req{} ", plan.n);
    let once = |reply: Value| {
        let mut rule = json!({"match": {"contains": marker.clone()}, "times": 1});
        if let (Some(r), Some(o)) = (rule.as_object_mut(), reply.as_object()) {
            r.extend(o.clone());
        }
        let rule: conduit_sim::Rule = serde_json::from_value(rule).unwrap();
        gw.sim().add_rule(rule);
    };
    let word = match plan.fault {
        Fault::Ok => "fault-none",
        Fault::SlowStream => "fault-slowstream",
        Fault::Throttled429Once => {
            once(
                json!({"http_error": {"status": 429, "body": {"message": "Too many requests, please wait.", "reason": null}}}),
            );
            "fault-once"
        }
        Fault::Error500Once => {
            once(
                json!({"http_error": {"status": 500, "body": {"message": "Encountered unexpectedly high load when processing the request, please try again.", "reason": null}}}),
            );
            "fault-once"
        }
        Fault::CutBeforeFirstFrameOnce => {
            once(json!({"reply": [{"cut": true}]}));
            "fault-once"
        }
        Fault::SlowFirstTokenOnce => {
            once(json!({"reply": [{"delay_ms": 3500}, {"text": "late"}]}));
            "fault-once"
        }
        Fault::Storm429 => "fault-storm429",
        Fault::Storm500 => "fault-storm500",
        Fault::CutMidStream => "fault-cutmid",
        Fault::ExceptionMidStream => "fault-exception",
        Fault::SlowFirstTokenAlways => "fault-slowalways",
        Fault::ClientDisconnect => "fault-disconnect",
        Fault::Reasoning => "fault-reasoning",
        Fault::RedactedReasoning => "fault-redacted",
        Fault::ModelUnavailableOnce => {
            once(
                json!({"http_error": {"status": 500, "body": {"message": "Encountered unexpectedly high load when processing the request, please try again.", "reason": "MODEL_TEMPORARILY_UNAVAILABLE"}}}),
            );
            "fault-once"
        }
        Fault::GatewayTimeout524Once => {
            once(json!({"http_error": {"status": 524, "body": null, "error_type": ""}}));
            "fault-once"
        }
        Fault::ToolSchemaInvalid => "fault-toolschema",
        Fault::ToolMismatch503 => "fault-mismatch503",
    };
    format!("{marker}{word} {}", "x".repeat(plan.text_len))
}

fn request(
    gw: &Gateway,
    plan: &Plan,
    http: &reqwest::Client,
    text: &str,
) -> reqwest::RequestBuilder {
    // Native reasoning comes from Opus-class models.
    let model = match plan.fault {
        Fault::Reasoning | Fault::RedactedReasoning => "claude-opus-4-8",
        _ => "claude-sonnet-4-5",
    };
    let msgs = json!([{"role": "user", "content": text}]);
    let (path, body) = match plan.dialect {
        Dialect::AnthropicJson | Dialect::AnthropicSse => (
            "/v1/messages",
            json!({"model": model, "max_tokens": 512, "messages": msgs,
                "stream": plan.dialect == Dialect::AnthropicSse}),
        ),
        Dialect::ChatJson | Dialect::ChatSse => (
            "/v1/chat/completions",
            json!({"model": model, "messages": msgs, "stream": plan.dialect == Dialect::ChatSse}),
        ),
        Dialect::ResponsesSse => (
            "/v1/responses",
            json!({"model": model, "input": text, "stream": true, "store": false}),
        ),
    };
    let rb = http.post(format!("{}{path}", gw.url)).json(&body);
    match plan.dialect {
        Dialect::AnthropicJson | Dialect::AnthropicSse => rb
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01"),
        _ => rb.bearer_auth(KEY),
    }
}

/// How one request ended.
#[derive(Debug)]
pub struct Ended {
    pub outcome: Result<Option<Outcome>, String>,
    pub started: Instant,
    pub finished: Instant,
}

/// Send the planned request and judge the answer. `Ok(None)`: the client walked away.
pub async fn run(gw: &Gateway, http: &reqwest::Client, plan: &Plan) -> Ended {
    let started = Instant::now();
    let text = script(gw, plan);
    let outcome = exchange(gw, http, plan, &text).await;
    Ended {
        outcome,
        started,
        finished: Instant::now(),
    }
}

async fn exchange(
    gw: &Gateway,
    http: &reqwest::Client,
    plan: &Plan,
    text: &str,
) -> Result<Option<Outcome>, String> {
    let send = request(gw, plan, http, text).send();
    if plan.fault == Fault::ClientDisconnect && !plan.dialect.streaming() {
        // Hang up before the answer: the request future is dropped while conduit waits upstream.
        let _ = tokio::time::timeout(Duration::from_millis(50), send).await;
        return Ok(None);
    }
    let resp = send
        .await
        .map_err(|e| format!("no response (connection dropped?): {e:#}"))?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if plan.fault == Fault::ClientDisconnect && status == 200 {
        let mut body = resp.bytes_stream();
        let first = body.next().await;
        if !matches!(first, Some(Ok(_))) {
            return Err(format!("no first chunk before hanging up: {first:?}"));
        }
        return Ok(None);
    }
    let body = resp
        .text()
        .await
        .map_err(|e| format!("status {status}: body cut: {e:#}"))?;
    check(plan.dialect, status, &ctype, &body).map(Some)
}
