//! ListAvailableProfiles, ListAvailableModels, getUsageLimits, the control API and the binary.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use conduit_sim::{Account, Profile};
use serde_json::{json, Value};

async fn target(
    sim: &conduit_sim::SimHandle,
    t: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    client()
        .post(format!("{}/", sim.base_url()))
        .header("x-amz-target", t)
        .header("content-type", "application/x-amz-json-1.0")
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn profiles_are_those_of_the_bearer_account() {
    let sim = sim().await;
    let mut multi = Account::new("multi", "multi-refresh").with_profile_arn("arn:a");
    multi.profiles = vec![Profile::new("arn:b"), Profile::new("arn:a")];
    sim.add_account(multi);
    let t = "AmazonCodeWhispererService.ListAvailableProfiles";
    let body: Value = target(&sim, t, "multi", json!({"maxResults": 10}))
        .await
        .json()
        .await
        .unwrap();
    let arns: Vec<&str> = body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["arn"].as_str().unwrap())
        .collect();
    assert_eq!(arns, ["arn:a", "arn:b"]);
    let body: Value = target(&sim, t, TOKEN, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["profiles"][0]["arn"], ARN);
    assert_eq!(target(&sim, t, "nope", json!({})).await.status(), 403);
}

#[tokio::test]
async fn models_list_both_forms() {
    let sim = sim().await;
    let rest: Value = client()
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
        .unwrap();
    let rpc: Value = target(
        &sim,
        "AmazonCodeWhispererService.ListAvailableModels",
        TOKEN,
        json!({"origin": "AI_EDITOR"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(rest, rpc);
    let ids: Vec<&str> = rest["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["modelId"].as_str().unwrap())
        .collect();
    for want in [
        "claude-sonnet-4.5",
        "claude-sonnet-4.6",
        "claude-haiku-4.5",
        "claude-opus-4.5",
        "claude-opus-4.6",
        "claude-opus-4.7",
        "auto",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    let sonnet = rest["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["modelId"] == "claude-sonnet-4.5")
        .unwrap();
    assert_eq!(sonnet["tokenLimits"]["maxInputTokens"], 200_000);
    assert_eq!(rest["defaultModel"]["modelId"], "auto");
}

#[tokio::test]
async fn usage_limits_count_chats_and_show_exhaustion() {
    let sim = sim().await;
    sim.add_account(Account::new("poor", "poor-r").with_quota_exhausted(true));
    frames(chat(&sim, &request("Hi")).await).await;
    let rest: Value = client()
        .get(format!(
            "{}/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST",
            sim.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = &rest["usageBreakdownList"][0];
    assert_eq!(row["resourceType"], "AGENTIC_REQUEST");
    assert_eq!(row["currentUsage"], 1);
    assert_eq!(row["usageLimit"], 50);
    assert_eq!(rest["subscriptionInfo"]["subscriptionTitle"], "KIRO FREE");
    let rpc: Value = target(
        &sim,
        "AmazonCodeWhispererService.GetUsageLimits",
        "poor",
        json!({"origin": "AI_EDITOR", "resourceType": "CREDIT"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let row = &rpc["usageBreakdownList"][0];
    assert_eq!(row["resourceType"], "CREDIT");
    assert_eq!(row["currentUsage"], row["usageLimit"]);
}

#[tokio::test]
async fn control_api_drives_accounts_rules_log_and_reset() {
    let sim = sim().await;
    let base = sim.base_url();
    let c = client();
    let resp = c
        .post(format!("{base}/_sim/accounts"))
        .json(&json!({"access_token": "py", "refresh_token": "py-r", "profile_arn": ARN, "kind": "social"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = c
        .post(format!("{base}/_sim/rules"))
        .json(
            &json!({"id": "py-rule", "match": {"contains": "hello"}, "times": 1,
                      "reply": [{"text": "Hi from Python", "chunk": 3}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["id"], "py-rule");
    let f = frames(chat_as(&sim, "py", &request("hello there")).await).await;
    assert_eq!(text(&f), "Hi from Python");

    let log: Value = c
        .get(format!("{base}/_sim/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 1, "control requests are not logged");
    assert_eq!(log[0]["rule"], "py-rule");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["headers"]["authorization"], "Bearer py");

    let resp = c
        .post(format!("{base}/_sim/accounts/expire"))
        .json(&json!({"access_token": "py"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(chat_as(&sim, "py", &request("x")).await.status(), 403);

    c.post(format!("{base}/_sim/reset")).send().await.unwrap();
    assert!(sim.log().is_empty());
    assert_eq!(
        chat(&sim, &request("x")).await.status(),
        200,
        "accounts survive a reset"
    );
}

#[tokio::test]
async fn unknown_target_is_rejected() {
    let sim = sim().await;
    let resp = target(&sim, "AmazonCodeWhispererService.Nope", TOKEN, json!({})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "UnknownOperationException"
    );
}

#[tokio::test]
async fn binary_writes_its_port_and_serves() {
    let dir = std::env::temp_dir().join(format!("conduit-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_conduit-sim"))
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .args(["--device-interval", "0", "--profile-arn-policy", "optional"])
        .args(["--root-region", "us-east-1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(line.trim(), format!("listening on http://127.0.0.1:{port}"));
    let base = format!("http://127.0.0.1:{port}");
    let health = client()
        .get(format!("{base}/_sim/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let config: Value = client()
        .post(format!("{base}/_sim/config"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(health.unwrap().text().await.unwrap(), "ok");
    assert_eq!(config["root_region"], "us-east-1");
    assert_eq!(config["profile_arn_policy"], "optional");
}
