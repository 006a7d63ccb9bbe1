//! Bearer checks, quota, scripted HTTP errors, the device flow and refresh-token rotation.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::{errors, Account, AccountKind, Rule, SimConfig, BUILDER_ID_START_URL};
use serde_json::{json, Value};

async fn post(
    sim: &conduit_sim::SimHandle,
    path: &str,
    body: Value,
) -> (u16, Option<String>, Value) {
    let resp = client()
        .post(format!("{}{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, kind, resp.json().await.unwrap())
}

async fn error_of(resp: reqwest::Response) -> (u16, String, Value) {
    let status = resp.status().as_u16();
    let kind = resp.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, kind, resp.json().await.unwrap())
}

fn invalid_bearer() -> Value {
    json!({"message": "The bearer token included in the request is invalid.", "reason": null})
}

#[tokio::test]
async fn unknown_missing_and_expired_tokens_get_403() {
    let sim = sim().await;
    let (status, kind, body) = error_of(chat_as(&sim, "nope", &request("Hi")).await).await;
    assert_eq!(
        (status, kind.as_str(), body),
        (403, "AccessDeniedException", invalid_bearer())
    );

    let resp = client()
        .post(format!("{}/generateAssistantResponse", sim.base_url()))
        .json(&request("Hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    assert!(sim.expire_access_token(TOKEN));
    let (status, _, body) = error_of(chat(&sim, &request("Hi")).await).await;
    assert_eq!((status, body), (403, invalid_bearer()));
}

#[tokio::test]
async fn exhausted_quota_gets_402() {
    let sim = sim().await;
    sim.add_account(
        Account::new("poor", "poor-refresh")
            .with_profile_arn(ARN)
            .with_quota_exhausted(true),
    );
    let (status, _, body) = error_of(chat_as(&sim, "poor", &request("Hi")).await).await;
    assert_eq!(status, 402);
    assert_eq!(
        body,
        json!({"message": "You have reached the limit.", "reason": "MONTHLY_REQUEST_COUNT"})
    );
}

#[tokio::test]
async fn scripted_http_errors_come_back_verbatim() {
    let cases = [
        (
            errors::throttling(),
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (
            errors::high_load(),
            500,
            "InternalServerException",
            "Encountered unexpectedly high load when processing the request, please try again.",
        ),
        (
            errors::context_overflow(),
            400,
            "ValidationException",
            "Input is too long.",
        ),
    ];
    let sim = sim().await;
    for (err, status, kind, message) in cases {
        sim.add_rule(Rule::error(err.clone()).times(1));
        let (got_status, got_kind, body) = error_of(chat(&sim, &request("Hi")).await).await;
        assert_eq!((got_status, got_kind.as_str()), (status, kind));
        assert_eq!(body["message"], message);
        assert_eq!(body, err.body);
    }
    assert_eq!(
        errors::context_overflow().body["reason"],
        "CONTENT_LENGTH_EXCEEDS_THRESHOLD"
    );
    // Rules were single-use: the next request streams normally.
    assert_eq!(chat(&sim, &request("Hi")).await.status(), 200);
}

#[tokio::test]
async fn desktop_refresh_rotates_the_refresh_token() {
    let sim = sim().await;
    let (status, _, body) = post(&sim, "/refreshToken", json!({"refreshToken": REFRESH})).await;
    assert_eq!(status, 200);
    assert_eq!(body["profileArn"], ARN);
    assert_eq!(body["expiresIn"], 3600);
    let access = body["accessToken"].as_str().unwrap();
    let refresh = body["refreshToken"].as_str().unwrap();
    assert_ne!(refresh, REFRESH);
    assert!(refresh.len() >= 100, "clients reject short refresh tokens");
    assert_eq!(chat_as(&sim, access, &request("Hi")).await.status(), 200);

    let (status, _, body) = post(&sim, "/refreshToken", json!({"refreshToken": REFRESH})).await;
    assert_eq!(status, 400, "the old refresh token died with the rotation");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Invalid refresh token provided");

    let (status, _, _) = post(&sim, "/refreshToken", json!({"refreshToken": refresh})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.count("/refreshToken"), 3);
}

#[tokio::test]
async fn revoked_refresh_token_is_invalid_grant() {
    let sim = sim().await;
    assert!(sim.revoke_refresh_token(REFRESH));
    let (status, kind, body) = post(&sim, "/refreshToken", json!({"refreshToken": REFRESH})).await;
    assert_eq!(
        (status, kind.as_deref()),
        (400, Some("InvalidGrantException"))
    );
    assert_eq!(body["error"], "invalid_grant");
}

async fn register(sim: &conduit_sim::SimHandle) -> (String, String) {
    let (status, _, body) = post(
        sim,
        "/client/register",
        json!({"clientName": "Kiro CLI", "clientType": "public",
               "scopes": ["codewhisperer:completions", "codewhisperer:analysis", "codewhisperer:conversations"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["clientSecretExpiresAt"].as_u64().unwrap()
            > body["clientIdIssuedAt"].as_u64().unwrap()
    );
    (
        body["clientId"].as_str().unwrap().to_owned(),
        body["clientSecret"].as_str().unwrap().to_owned(),
    )
}

fn device_poll(id: &str, secret: &str, code: &str) -> Value {
    json!({"clientId": id, "clientSecret": secret,
           "grantType": "urn:ietf:params:oauth:grant-type:device_code", "deviceCode": code})
}

async fn start_device(
    sim: &conduit_sim::SimHandle,
    id: &str,
    secret: &str,
    start_url: &str,
) -> Value {
    let (status, _, body) = post(
        sim,
        "/device_authorization",
        json!({"clientId": id, "clientSecret": secret, "startUrl": start_url}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn device_flow_pending_then_approved_then_token() {
    let sim = sim_with(SimConfig {
        device_interval: 0,
        ..SimConfig::default()
    })
    .await;
    let (id, secret) = register(&sim).await;
    let dev = start_device(&sim, &id, &secret, BUILDER_ID_START_URL).await;
    let user_code = dev["userCode"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(dev["interval"], 0);
    assert_eq!(
        dev["verificationUri"],
        format!("{}/_sim/device", sim.base_url())
    );
    assert!(dev["verificationUriComplete"]
        .as_str()
        .unwrap()
        .ends_with(user_code));
    let code = dev["deviceCode"].as_str().unwrap();

    let (status, kind, body) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!(
        (status, kind.as_deref()),
        (400, Some("AuthorizationPendingException"))
    );
    assert_eq!(body["error"], "authorization_pending");

    let page = client()
        .get(dev["verificationUriComplete"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(user_code));

    let resp = client()
        .post(format!("{}/_sim/device/approve", sim.base_url()))
        .json(&json!({"user_code": user_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let (status, _, tok) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["tokenType"], "Bearer");
    let access = tok["accessToken"].as_str().unwrap();

    // A Builder ID has no profile of its own: it lists none and chats with the placeholder.
    let profiles = client()
        .post(format!("{}/", sim.base_url()))
        .header(
            "x-amz-target",
            "AmazonCodeWhispererService.ListAvailableProfiles",
        )
        .bearer_auth(access)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(profiles, json!({"profiles": []}));
    let mut body = request("Hi");
    body["profileArn"] = json!(conduit_sim::arn::BUILDER_ID_PLACEHOLDER_ARN);
    assert_eq!(chat_as(&sim, access, &body).await.status(), 200);
    body["profileArn"] = json!(SimConfig::default().device_profiles[0].arn);
    assert_eq!(chat_as(&sim, access, &body).await.status(), 403);

    // A device code is good for one token only.
    let (status, _, body) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // OIDC refresh rotates, and the desktop endpoint refuses OIDC refresh tokens.
    let rt = tok["refreshToken"].as_str().unwrap();
    let (status, _, _) = post(&sim, "/refreshToken", json!({"refreshToken": rt})).await;
    assert_eq!(status, 400);
    let refresh = |rt: &str| json!({"clientId": id, "clientSecret": secret, "grantType": "refresh_token", "refreshToken": rt});
    let (status, _, fresh) = post(&sim, "/token", refresh(rt)).await;
    assert_eq!(status, 200, "{fresh}");
    assert_ne!(fresh["refreshToken"], tok["refreshToken"]);
    let (status, kind, body) = post(&sim, "/token", refresh(rt)).await;
    assert_eq!(
        (status, kind.as_deref()),
        (400, Some("InvalidGrantException"))
    );
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn device_flow_slow_down_deny_and_expiry() {
    let sim = sim_with(SimConfig {
        device_interval: 5,
        ..SimConfig::default()
    })
    .await;
    let (id, secret) = register(&sim).await;
    let dev = start_device(&sim, &id, &secret, "https://example.awsapps.com/start").await;
    let code = dev["deviceCode"].as_str().unwrap();
    let (_, _, first) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!(first["error"], "authorization_pending");
    let (status, kind, body) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!((status, kind.as_deref()), (400, Some("SlowDownException")));
    assert_eq!(body["error"], "slow_down");

    assert!(sim.deny_device(dev["userCode"].as_str().unwrap()));
    let (_, _, body) = post(&sim, "/token", device_poll(&id, &secret, code)).await;
    assert_eq!(body["error"], "access_denied");

    let dev = start_device(&sim, &id, &secret, BUILDER_ID_START_URL).await;
    let resp = client()
        .post(format!("{}/_sim/device/expire", sim.base_url()))
        .json(&json!({"user_code": dev["userCode"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, kind, body) = post(
        &sim,
        "/token",
        device_poll(&id, &secret, dev["deviceCode"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        (status, kind.as_deref()),
        (400, Some("ExpiredTokenException"))
    );
    assert_eq!(body["error"], "expired_token");
}

#[tokio::test]
async fn oidc_rejects_unknown_clients_and_bad_requests() {
    let sim = sim().await;
    let (status, kind, body) = post(
        &sim,
        "/device_authorization",
        json!({"clientId": "x", "clientSecret": "y", "startUrl": BUILDER_ID_START_URL}),
    )
    .await;
    assert_eq!(
        (status, kind.as_deref()),
        (401, Some("InvalidClientException"))
    );
    assert_eq!(body["error"], "invalid_client");
    let (status, _, body) = post(&sim, "/client/register", json!({"clientType": "public"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (id, secret) = register(&sim).await;
    let (status, _, body) = post(
        &sim,
        "/token",
        json!({"clientId": id, "clientSecret": secret, "grantType": "password"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn registered_idc_account_refreshes_only_with_its_client() {
    let sim = sim().await;
    sim.add_account(
        Account::new("idc-access", "idc-refresh")
            .with_kind(AccountKind::Idc)
            .with_client("cid", "csecret"),
    );
    let (other_id, other_secret) = register(&sim).await;
    let body = |id: &str, secret: &str| json!({"clientId": id, "clientSecret": secret, "grantType": "refresh_token", "refreshToken": "idc-refresh"});
    let (status, _, _) = post(&sim, "/token", body(&other_id, &other_secret)).await;
    assert_eq!(status, 400, "refresh tokens are bound to their client");
    let (status, _, _) = post(&sim, "/token", body("cid", "wrong")).await;
    assert_eq!(status, 401);
    let (status, _, tok) = post(&sim, "/token", body("cid", "csecret")).await;
    assert_eq!(status, 200);
    assert_eq!(
        sim.current_tokens("idc-refresh"),
        Some((
            tok["accessToken"].as_str().unwrap().to_owned(),
            tok["refreshToken"].as_str().unwrap().to_owned()
        ))
    );
}
