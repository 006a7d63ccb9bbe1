//! Stories of a gateway wired from a config file: two Bedrock regions and Kiro behind one route,
//! all served by the in-process simulator (SigV4 verified for real with its test credentials).
//! Failover before the first byte, cooldowns and the way back; the union of models; Kiro-only
//! routes only with Kiro; config errors from the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::time::Duration;

use conduit_sim::bedrock::{TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use conduit_sim::{BedrockFault, FaultKind};
use harness::{Gateway, Options};
use serde_json::{json, Value};

const TWO_REGIONS_AND_KIRO: &str = r#"
[[upstreams]]
name = "bedrock-east"
kind = "bedrock"
region = "us-east-1"
endpoint = "{sim}/region/us-east-1"

[[upstreams]]
name = "bedrock-west"
kind = "bedrock"
region = "us-west-2"
endpoint = "{sim}/region/us-west-2"

[[upstreams]]
name = "kiro"
kind = "kiro"

[[routes]]
models = ["claude-*"]
upstreams = ["bedrock-east", "bedrock-west", "kiro"]

[router]
cooldown_seconds = 1
"#;

const BEDROCK_ONLY: &str = r#"
[[upstreams]]
name = "bedrock-east"
kind = "bedrock"
region = "us-east-1"
endpoint = "{sim}/region/us-east-1"
"#;

async fn start(config: &str) -> Gateway {
    let mut opts = Options {
        config: Some(config.to_owned()),
        ..Options::default()
    };
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        opts.env.insert(k, v.to_owned());
    }
    harness::start_with(opts).await
}

fn ask(text: &str) -> Value {
    json!({"model": "claude-opus-4-7", "max_tokens": 256,
        "messages": [{"role": "user", "content": text}]})
}

/// Who answered each chat call since the last look: `us-east-1`, `us-west-2` (Bedrock, with the
/// status the sim gave) or `kiro`.
async fn served(gw: &Gateway, from: usize) -> Vec<(String, u16)> {
    gw.sim_log()
        .await
        .into_iter()
        .filter(|e| {
            let p = e["path"].as_str().unwrap_or("");
            p.contains("/invoke") || p.starts_with("/generateAssistantResponse")
        })
        .skip(from)
        .map(|e| {
            let who = match e["service"].as_str() {
                Some("bedrock") => e["region"].as_str().unwrap_or("?").to_owned(),
                _ => "kiro".to_owned(),
            };
            (who, e["status"].as_u64().unwrap_or(0) as u16)
        })
        .collect()
}

fn throttle(region: &str) -> BedrockFault {
    BedrockFault::new(FaultKind::Throttle).region(region)
}

async fn health(gw: &Gateway) -> Value {
    gw.get("/health")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn state_of<'a>(health: &'a Value, id: &str) -> &'a str {
    health["upstreams"]
        .as_array()
        .and_then(|l| l.iter().find(|u| u["id"] == id))
        .and_then(|u| u["state"].as_str())
        .unwrap_or("?")
}

#[tokio::test]
async fn a_throttled_region_fails_over_to_the_next_then_to_kiro_and_comes_back() {
    let gw = start(TWO_REGIONS_AND_KIRO).await;

    let (status, body) = gw.messages(ask("first")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(served(&gw, 0).await, [("us-east-1".into(), 200)]);

    // us-east-1 throttles: the same request is served by us-west-2, the client sees a 200.
    gw.sim().add_bedrock_fault(throttle("us-east-1"));
    let seen = served(&gw, 0).await.len();
    let (status, body) = gw.messages(ask("second")).await;
    assert_eq!(status, 200, "{body}");
    let calls = served(&gw, seen).await;
    assert_eq!(calls.last(), Some(&("us-west-2".into(), 200)), "{calls:?}");
    assert!(calls
        .iter()
        .all(|(who, s)| who == "us-west-2" || (who == "us-east-1" && *s == 429)));
    assert_eq!(state_of(&health(&gw).await, "bedrock-east"), "cooling_down");

    // us-west-2 throttles too: Kiro answers.
    gw.sim().add_bedrock_fault(throttle("us-west-2"));
    let seen = served(&gw, 0).await.len();
    let (status, body) = gw.messages(ask("third")).await;
    assert_eq!(status, 200, "{body}");
    let calls = served(&gw, seen).await;
    assert_eq!(calls.last(), Some(&("kiro".into(), 200)), "{calls:?}");

    // The regions recover; after the cooldown the preferred upstream is first again.
    gw.sim().reset();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = gw.messages(ask("fourth")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(served(&gw, 0).await, [("us-east-1".into(), 200)]);
    assert_eq!(state_of(&health(&gw).await, "bedrock-east"), "ready");
}

#[tokio::test]
async fn every_region_throttled_and_no_kiro_is_a_429_in_the_clients_dialect() {
    let gw = start(BEDROCK_ONLY).await;
    gw.sim().add_bedrock_fault(throttle("us-east-1"));

    let (status, body) = gw.messages(ask("hi")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let r = gw
        .post("/v1/chat/completions")
        .json(&json!({"model": "claude-opus-4-7",
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn models_are_the_union_with_their_windows() {
    let gw = start(TWO_REGIONS_AND_KIRO).await;
    let list: Value = gw
        .get("/v1/models")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"claude-opus-4-7"), "{ids:?}");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate ids: {ids:?}");
    for m in list["data"].as_array().unwrap() {
        assert!(m["context_window"].as_u64().unwrap_or(0) > 0, "{m}");
    }
}

#[tokio::test]
async fn health_lists_each_upstream_and_kiro_routes_exist_only_with_kiro() {
    let gw = start(BEDROCK_ONLY).await;
    let h = health(&gw).await;
    let list = h["upstreams"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{h}");
    assert_eq!(list[0]["id"], "bedrock-east");
    assert_eq!(list[0]["kind"], "bedrock");
    assert_eq!(list[0]["state"], "ready");
    assert_eq!(gw.get("/v1/usage").send().await.unwrap().status(), 404);
    let login = gw
        .http
        .get(format!("{}/login", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);

    let with_kiro = start(TWO_REGIONS_AND_KIRO).await;
    assert_eq!(
        with_kiro.get("/v1/usage").send().await.unwrap().status(),
        200
    );
    let h = health(&with_kiro).await;
    let ids: Vec<&str> = h["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids, ["bedrock-east", "bedrock-west", "kiro"]);
    assert!(
        h["upstream"].is_object(),
        "Kiro's detail stays where it was: {h}"
    );
}

#[tokio::test]
async fn count_tokens_is_bedrocks_exact_count() {
    let gw = start(BEDROCK_ONLY).await;
    let body = json!({"model": "claude-opus-4-7", "system": "Be brief.",
        "messages": [{"role": "user", "content": "count these words please"}]});
    let r = gw
        .post("/v1/messages/count_tokens")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let counted = r.json::<Value>().await.unwrap()["input_tokens"]
        .as_u64()
        .unwrap();
    let mut create = body.clone();
    create["max_tokens"] = json!(64);
    let (status, answer) = gw.messages(create).await;
    assert_eq!(status, 200, "{answer}");
    let usage = &answer["usage"];
    let total = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| usage[*k].as_u64().unwrap_or(0))
    .sum::<u64>();
    assert_eq!(counted, total, "{usage}");
}

/// `conduit serve --config` with a bad file: exit 1 before listening, the file, line and key named.
#[test]
fn config_errors_stop_the_real_binary_with_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("conduit-cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "[[upstreams]]\nname = \"b\"\nkind = \"bedrock\"\nregion = \"us-east-1\"\nendpiont = \"x\"\n",
            vec!["line 5", "endpiont"],
        ),
        (
            "[[upstreams]]\nname = \"k\"\nkind = \"kiro\"\n\n[[routes]]\nmodels = [\"claude-*\"]\nupstreams = [\"bedrock-us\"]\n",
            vec!["line 7", "bedrock-us", "not defined"],
        ),
    ];
    for (i, (text, wants)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_conduit"))
            .args(["serve", "--port", "0", "--config"])
            .arg(&file)
            .env("CONDUIT_HOME", dir.join("home"))
            .env("HOME", &dir)
            .env("PROXY_API_KEY", "sk-test-config-errors")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&*file.to_string_lossy()), "{stderr}");
        for want in wants {
            assert!(stderr.contains(want), "`{stderr}` lacks `{want}`");
        }
    }
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_conduit"))
        .args(["serve", "--port", "0"])
        .env("CONDUIT_CONFIG", dir.join("nope.toml"))
        .env("CONDUIT_HOME", dir.join("home"))
        .env("HOME", &dir)
        .env("PROXY_API_KEY", "sk-test-config-errors")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nope.toml") && stderr.contains("CONDUIT_CONFIG"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
