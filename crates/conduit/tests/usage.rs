//! `GET /v1/usage` through the gateway: every account of the registry with the simulator's
//! getUsageLimits numbers, behind the API key.

mod harness;

use harness::{start_with, user, Options, PROFILE_ARN};
use serde_json::json;

#[tokio::test]
async fn usage_lists_every_account_with_its_limits() {
    let gw = start_with(Options {
        extra_accounts: vec![
            json!({"subscription_title": "KIRO PRO", "usage_limit": 1000,
            "quota_exhausted": true}),
        ],
        ..Options::default()
    })
    .await;
    for _ in 0..2 {
        let (status, _) = gw.messages(user("hi")).await;
        assert_eq!(status, 200);
    }

    let r = gw.get("/v1/usage").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{body:#}");

    let main = &accounts[0];
    assert_eq!(main["id"], "acc_00000000");
    assert_eq!(main["label"], "main");
    assert_eq!(main["profile_arn"], PROFILE_ARN);
    assert_eq!(main["healthy"], true);
    assert_eq!(main["usage"]["subscription_title"], "KIRO FREE");
    assert_eq!(main["usage"]["current_usage"], 2.0);
    assert_eq!(main["usage"]["usage_limit"], 50.0);
    assert_eq!(
        main["usage"]["resources"][0]["resource_type"],
        "AGENTIC_REQUEST"
    );
    assert!(main["usage"]["next_date_reset"].is_string());

    let extra = &accounts[1];
    assert_eq!(extra["id"], "acc_00000001");
    assert_eq!(extra["usage"]["subscription_title"], "KIRO PRO");
    assert_eq!(extra["usage"]["current_usage"], 1000.0);
    assert_eq!(extra["usage"]["usage_limit"], 1000.0);

    let queries = gw
        .sim_log()
        .await
        .into_iter()
        .filter(|e| e["path"] == "/getUsageLimits")
        .count();
    assert_eq!(queries, 2, "one getUsageLimits per account");

    let unauthorized = gw
        .http
        .get(format!("{}/v1/usage", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
}

#[tokio::test]
async fn a_session_fails_over_to_the_second_account_through_the_gateway() {
    let gw = start_with(Options {
        extra_accounts: vec![json!({})],
        ..Options::default()
    })
    .await;
    gw.rule(json!({"match": {"access_token": gw.access_token},
        "http_error": {"status": 402, "body": {"message": "You have reached the limit.",
            "reason": "MONTHLY_REQUEST_COUNT"}}}))
        .await;
    let r = gw
        .post("/v1/messages")
        .header(
            "x-claude-code-session-id",
            "0b6a3c57-0000-4000-8000-000000000001",
        )
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the client never sees the quota error");
    let bearers: Vec<String> = gw
        .chat_requests()
        .await
        .iter()
        .map(|e| {
            e["headers"]["authorization"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        bearers,
        vec![
            format!("Bearer {}", gw.access_token),
            format!("Bearer {}", gw.extra_tokens[0])
        ]
    );
    let usage: serde_json::Value = gw
        .get("/v1/usage")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["accounts"][0]["healthy"], false);
    assert_eq!(usage["accounts"][0]["state"], "quota", "{usage:#}");
    assert!(
        usage["accounts"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("quota")),
        "{usage:#}"
    );
    assert!(usage["accounts"][0]["cooldown_until"].is_string());
    let health: serde_json::Value = gw
        .http
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health:#}");
    assert_eq!(health["upstream"]["accounts"][1]["healthy"], true);
}
