//! The late-2026 error catalogue (spec §9.6): presets, the real TOOL_SCHEMA_INVALID check,
//! account flags and refresh throttling.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::{errors, Account, AccountKind, AccountUpdate, ConfigPatch, HttpError, Rule};
use serde_json::{json, Value};

/// Status, `x-amzn-errortype`, `retry-after`, raw body.
async fn answer(resp: reqwest::Response) -> (u16, Option<String>, Option<String>, String) {
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (kind, retry) = (h("x-amzn-errortype"), h("retry-after"));
    let status = resp.status().as_u16();
    (status, kind, retry, resp.text().await.unwrap())
}

#[tokio::test]
async fn presets_come_back_with_their_exact_status_body_and_type() {
    let sim = sim().await;
    let suspended_msg = format!(
        "Your User ID ({}) temporarily is suspended. We've locked your account as a security \
         precaution. To restore access, please contact our support team to verify your identity: \
         https://aws.amazon.com/contact-us/",
        errors::SIM_USER_ID
    );
    let table: Vec<(HttpError, u16, &str, Value)> = vec![
        (
            errors::suspicious_activity(),
            429,
            "ThrottlingException",
            json!({"message": format!("Due to suspicious activity, we are imposing temporary limits on how frequently your account ({}) can send a request to Kiro while we investigate.", errors::SIM_USER_ID), "reason": null}),
        ),
        (
            errors::suspended(),
            403,
            "AccessDeniedException",
            json!({"__type": "com.amazon.aws.codewhisperer#AccessDeniedException", "message": suspended_msg}),
        ),
        (
            errors::overage_limit(),
            402,
            "ServiceQuotaExceededException",
            json!({"message": "You have reached the limit for overages.", "reason": "OVERAGE_REQUEST_LIMIT_EXCEEDED"}),
        ),
        (
            errors::overage_limit_400(),
            400,
            "ServiceQuotaExceededException",
            json!({"__type": "ServiceQuotaExceededException", "error": {"message": "You have reached the limit for overages.", "reason": "OVERAGE_REQUEST_LIMIT_EXCEEDED"}}),
        ),
        (
            errors::tool_schema_invalid(errors::TOOL_SCHEMA_TOP_LEVEL),
            400,
            "ValidationException",
            json!({"__type": "ValidationException", "message": "input_schema does not support oneOf, allOf, or anyOf at the top level", "reason": "TOOL_SCHEMA_INVALID"}),
        ),
        (
            errors::tool_use_result_mismatch_503(),
            503,
            "ServiceUnavailableException",
            json!({"message": "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_simMismatch000000000", "reason": "TOOL_USE_RESULT_MISMATCH"}),
        ),
        (
            errors::tool_use_result_mismatch(),
            400,
            "ValidationException",
            json!({"message": "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_simMismatch000000000", "reason": "TOOL_USE_RESULT_MISMATCH"}),
        ),
        (
            errors::model_temporarily_unavailable(),
            500,
            "InternalServerException",
            json!({"message": "Encountered unexpectedly high load when processing the request, please try again.", "reason": "MODEL_TEMPORARILY_UNAVAILABLE"}),
        ),
        (
            errors::thinking_signature_invalid(),
            400,
            "ValidationException",
            json!({"message": "Invalid `signature` in `thinking` block", "reason": "THINKING_SIGNATURE_INVALID"}),
        ),
        (
            errors::request_body_invalid(),
            400,
            "ValidationException",
            json!({"message": "Improperly formed request.", "reason": "REQUEST_BODY_INVALID"}),
        ),
        (
            errors::additional_fields_unsupported(),
            400,
            "ValidationException",
            json!({"message": "additionalModelRequestFields is not supported for this model", "reason": null}),
        ),
        (
            errors::additional_fields_invalid(),
            400,
            "ValidationException",
            json!({"message": "Invalid additionalModelRequestFields", "reason": null}),
        ),
        (
            errors::input_too_long(),
            400,
            "ValidationException",
            json!({"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}),
        ),
    ];
    for (err, status, kind, body) in table {
        sim.reset();
        sim.add_rule(Rule::error(err));
        let (got, k, retry, text) = answer(chat(&sim, &request("Hi")).await).await;
        assert_eq!(
            (got, k.as_deref(), retry),
            (status, Some(kind), None),
            "{body}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), body);
    }
    // 524: no body, no AWS error type.
    sim.reset();
    sim.add_rule(Rule::error(errors::gateway_timeout_524()));
    assert_eq!(
        answer(chat(&sim, &request("Hi")).await).await,
        (524, None, None, String::new())
    );
    // Retry-After on a scripted error, and a plain-text body.
    sim.reset();
    sim.add_rule(Rule::error(
        HttpError::new(503, json!("Expected toolResult blocks"), "").with_retry_after(7),
    ));
    assert_eq!(
        answer(chat(&sim, &request("Hi")).await).await,
        (
            503,
            None,
            Some("7".into()),
            "Expected toolResult blocks".into()
        )
    );
}

#[tokio::test]
async fn top_level_combinators_in_a_tool_schema_are_refused() {
    let sim = sim().await;
    let tool = |schema: Value| {
        let mut body = request("Hi");
        body["conversationState"]["currentMessage"]["userInputMessage"]
            ["userInputMessageContext"] = json!({"tools": [{"toolSpecification": {"name": "Pick", "description": "pick one",
                "inputSchema": {"json": schema}}}]});
        body
    };
    for (schema, ok) in [
        (
            json!({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}),
            true,
        ),
        (json!({"oneOf": [{"type": "object"}]}), false),
        (
            json!({"type": "object", "anyOf": [{"required": ["a"]}]}),
            false,
        ),
        (json!({"allOf": []}), false),
    ] {
        let resp = chat(&sim, &tool(schema.clone())).await;
        if ok {
            assert_eq!(resp.status(), 200, "{schema}");
        } else {
            let (status, _, _, text) = answer(resp).await;
            assert_eq!(status, 400, "{schema}");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["reason"], "TOOL_SCHEMA_INVALID");
        }
    }
}

#[tokio::test]
async fn account_flags_refuse_calls_until_cleared() {
    let sim = sim().await;
    let base = sim.base_url();
    let usage = || {
        client()
            .get(format!(
                "{base}/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST"
            ))
            .bearer_auth(TOKEN)
            .send()
    };
    let models = || {
        client()
            .get(format!("{base}/ListAvailableModels?origin=AI_EDITOR"))
            .bearer_auth(TOKEN)
            .send()
    };
    // (flag json, chat status, chat reason or message fragment, models status)
    let table = [
        (
            json!({"suspended": true}),
            403,
            "temporarily is suspended",
            403,
        ),
        (
            json!({"risk_limited": true}),
            429,
            "suspicious activity",
            200,
        ),
        (
            json!({"quota_exhausted": true}),
            402,
            "MONTHLY_REQUEST_COUNT",
            200,
        ),
        (
            json!({"overage_exhausted": true}),
            402,
            "OVERAGE_REQUEST_LIMIT_EXCEEDED",
            200,
        ),
    ];
    for (flag, status, marker, models_status) in table {
        let mut update = flag.clone();
        update["access_token"] = json!(TOKEN);
        let r = client()
            .post(format!("{base}/_sim/accounts/update"))
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (got, _, _, text) = answer(chat(&sim, &request("Hi")).await).await;
        assert_eq!(got, status, "{flag}");
        assert!(text.contains(marker), "{flag}: {text}");
        assert_eq!(models().await.unwrap().status(), models_status, "{flag}");
        assert_eq!(usage().await.unwrap().status(), 200, "{flag}");
        // Clear it again (from Rust, by refresh token).
        let key = flag.as_object().unwrap().keys().next().unwrap().clone();
        let mut clear = AccountUpdate {
            refresh_token: Some(REFRESH.into()),
            ..AccountUpdate::default()
        };
        match key.as_str() {
            "suspended" => clear.suspended = Some(false),
            "risk_limited" => clear.risk_limited = Some(false),
            "quota_exhausted" => clear.quota_exhausted = Some(false),
            _ => clear.overage_exhausted = Some(false),
        }
        assert!(sim.update_account(clear));
        assert_eq!(chat(&sim, &request("Hi")).await.status(), 200, "{flag}");
    }
    let r = client()
        .post(format!("{base}/_sim/accounts/update"))
        .json(&json!({"access_token": "nobody", "suspended": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn refresh_throttle_answers_429_on_every_token_endpoint() {
    let sim = sim().await;
    sim.add_account(
        Account::new("idc-a", "idc-r")
            .with_kind(AccountKind::Idc)
            .with_client("cid", "csecret"),
    );
    sim.add_account(
        Account::new("entra-a", "entra-r")
            .with_kind(AccountKind::ExternalIdp)
            .with_tenant("contoso"),
    );
    sim.configure(ConfigPatch {
        refresh_throttle: Some(3),
        ..ConfigPatch::default()
    });
    let base = sim.base_url();
    let desktop = || {
        client()
            .post(format!("{base}/refreshToken"))
            .json(&json!({"refreshToken": REFRESH}))
            .send()
    };
    let oidc = || {
        client()
            .post(format!("{base}/token"))
            .json(&json!({"clientId": "cid", "clientSecret": "csecret",
                          "grantType": "refresh_token", "refreshToken": "idc-r"}))
            .send()
    };
    let entra = || {
        client()
            .post(format!("{base}/contoso/oauth2/v2.0/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&client_id=app&refresh_token=entra-r")
            .send()
    };
    for resp in [desktop().await, oidc().await, entra().await] {
        let (status, kind, retry, _) = answer(resp.unwrap()).await;
        assert_eq!(
            (status, kind.as_deref(), retry.as_deref()),
            (429, Some("ThrottlingException"), Some("1"))
        );
    }
    // The tokens are fine: after the throttle every endpoint refreshes.
    assert_eq!(desktop().await.unwrap().status(), 200);
    assert_eq!(oidc().await.unwrap().status(), 200);
    assert_eq!(entra().await.unwrap().status(), 200);
    assert_eq!(sim.stats().refresh_calls, 6);
}
