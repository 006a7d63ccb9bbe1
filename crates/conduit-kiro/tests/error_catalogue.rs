//! The late-2026 error catalogue (spec §9.6), one row per error, against the simulator with two
//! accounts: what the client sees, how many chat calls each account got (the simulator's log),
//! and what conduit made of account 0 (its state in `status` and in `state.json`).

mod accounts_harness;

use accounts_harness::{access, ask, Accounts};
use conduit_core::ErrorKind;
use conduit_kiro::accounts::AccountState;
use conduit_sim::{errors, AccountUpdate, HttpError, Match, Rule, DEFAULT_TEXT};

/// What the client gets: the answer, or an error of this kind whose message has this fragment.
#[derive(Debug, Clone, PartialEq)]
enum Sees {
    Answer,
    Error(ErrorKind, &'static str),
}

struct Row {
    name: &'static str,
    /// What account 0 answers to every chat call.
    error: HttpError,
    sees: Sees,
    /// Chat calls to account 0 and to account 1.
    calls: (usize, usize),
    state: AccountState,
}

fn rows() -> Vec<Row> {
    use AccountState::*;
    use Sees::*;
    let client = |fragment| Error(ErrorKind::InvalidRequest, fragment);
    let row = |name, error, sees, calls, state| Row {
        name,
        error,
        sees,
        calls,
        state,
    };
    vec![
        row(
            "risk control 429",
            errors::suspicious_activity(),
            Answer,
            (1, 1),
            CoolingDown,
        ),
        row(
            "suspension 403",
            errors::suspended(),
            Answer,
            (1, 1),
            Suspended,
        ),
        row(
            "overage 402",
            errors::overage_limit(),
            Answer,
            (1, 1),
            Quota,
        ),
        row(
            "overage as 400",
            errors::overage_limit_400(),
            Answer,
            (1, 1),
            Quota,
        ),
        row(
            "monthly quota 402",
            errors::monthly_limit(),
            Answer,
            (1, 1),
            Quota,
        ),
        row(
            "tool schema invalid",
            errors::tool_schema_invalid(
                "input_schema does not support oneOf, allOf, or anyOf at the top level",
            ),
            client("input schema"),
            (1, 0),
            Active,
        ),
        row(
            "tool pairing 400",
            errors::tool_use_result_mismatch(),
            client("tool_result"),
            (1, 0),
            Active,
        ),
        row(
            "tool pairing as 503",
            errors::tool_use_result_mismatch_503(),
            client("tool_result"),
            (1, 0),
            Active,
        ),
        row(
            "model temporarily unavailable",
            errors::model_temporarily_unavailable(),
            Answer,
            (3, 1),
            CoolingDown,
        ),
        row(
            "524 gateway timeout",
            errors::gateway_timeout_524(),
            Error(ErrorKind::Timeout, "524"),
            (1, 0),
            Active,
        ),
        row(
            "thinking signature",
            errors::thinking_signature_invalid(),
            client("signature"),
            (1, 0),
            Active,
        ),
        row(
            "reasoning body invalid",
            errors::request_body_invalid(),
            client("thinking block"),
            (1, 0),
            Active,
        ),
        row(
            "additionalModelRequestFields unsupported",
            errors::additional_fields_unsupported(),
            client("reasoning settings"),
            (1, 0),
            Active,
        ),
        row(
            "additionalModelRequestFields invalid",
            errors::additional_fields_invalid(),
            client("reasoning settings"),
            (1, 0),
            Active,
        ),
        row(
            "input too long",
            errors::input_too_long(),
            Error(
                ErrorKind::ContextOverflow {
                    tokens: 200_001,
                    max: 200_000,
                },
                "prompt is too long",
            ),
            (1, 0),
            Active,
        ),
        row(
            "429 throttling",
            errors::throttling(),
            Answer,
            (3, 1),
            CoolingDown,
        ),
    ]
}

fn calls(h: &Accounts) -> (usize, usize) {
    let log = h.chat_accounts();
    (
        log.iter().filter(|&&a| a == 0).count(),
        log.iter().filter(|&&a| a == 1).count(),
    )
}

#[tokio::test]
async fn each_error_of_the_catalogue_is_handled_as_the_table_says() {
    for r in rows() {
        let h = Accounts::start(2).await;
        let up = h.upstream();
        h.fail_account(0, r.error);
        let got = match ask(&up, Some("s")).await {
            Ok(text) => {
                assert_eq!(text, DEFAULT_TEXT, "{}", r.name);
                Sees::Answer
            }
            Err(e) => {
                if let Sees::Error(kind, fragment) = &r.sees {
                    assert_eq!(&e.kind, kind, "{}: {}", r.name, e.message);
                    assert!(e.message.contains(fragment), "{}: {}", r.name, e.message);
                    Sees::Error(kind.clone(), fragment)
                } else {
                    panic!("{}: unexpected error {e:?}", r.name)
                }
            }
        };
        assert_eq!(got, r.sees, "{}", r.name);
        assert_eq!(
            calls(&h),
            r.calls,
            "{}: chat calls to account 0 and 1",
            r.name
        );
        let (state, reason, _) = up.pool().account_state(0);
        assert_eq!(
            state, r.state,
            "{}: account 0 is {state:?} ({reason:?})",
            r.name
        );
        assert_eq!(
            up.pool().account_state(1).0,
            AccountState::Active,
            "{}",
            r.name
        );
        up.pool().flush();
        if r.state != AccountState::Active {
            let saved = h.state_json();
            let health = &saved["accounts"][accounts_harness::id(0)];
            assert!(!health["reason"].is_null(), "{}: persisted {saved}", r.name);
        }
    }
}

#[tokio::test]
async fn a_suspended_account_stays_off_across_restarts_until_it_is_signed_in_again() {
    let h = Accounts::start(2).await;
    h.sim.update_account(AccountUpdate {
        access_token: Some(access(0)),
        suspended: Some(true),
        ..AccountUpdate::default()
    });
    let up = h.upstream();
    assert_eq!(ask(&up, Some("s")).await.unwrap(), DEFAULT_TEXT);
    assert_eq!(calls(&h), (1, 1));
    let status = conduit_core::Upstream::status(&up);
    let acc0 = &status.detail["accounts"][0];
    assert_eq!(acc0["state"], "suspended", "{status:?}");
    assert!(
        acc0["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("suspended"),
        "{acc0}"
    );
    drop(up);

    // Hours later and after a restart: no self-healing, not a single call to account 0.
    h.advance(12 * 3600);
    let up = h.upstream();
    for _ in 0..3 {
        assert_eq!(ask(&up, Some("s")).await.unwrap(), DEFAULT_TEXT);
    }
    assert_eq!(calls(&h), (1, 4));
    assert_eq!(up.pool().account_state(0).0, AccountState::Suspended);
    // /v1/usage still shows its usage (Kiro answers that for a suspended account) and its state;
    // asking does not lift the suspension.
    let usage = up.usage().await;
    assert_eq!(usage["accounts"][0]["state"], "suspended", "{usage}");
    assert!(usage["accounts"][0]["usage"].is_object(), "{usage}");
    ask(&up, Some("s")).await.unwrap();
    assert_eq!(calls(&h), (1, 5));

    // Signing the account in again (a new token file) lifts it.
    h.sim.update_account(AccountUpdate {
        access_token: Some(access(0)),
        suspended: Some(false),
        ..AccountUpdate::default()
    });
    let file = h.dir.join("kiro-auth-token.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["signedInAt"] = serde_json::json!("2026-12-04T00:00:00Z");
    std::fs::write(&file, v.to_string()).unwrap();
    assert_eq!(ask(&up, Some("s")).await.unwrap(), DEFAULT_TEXT);

    assert_eq!(calls(&h), (2, 5), "back on its home account");
    assert_eq!(up.pool().account_state(0).0, AccountState::Active);
}

#[tokio::test]
async fn risk_control_rests_the_account_ten_minutes_and_never_retries_on_it() {
    let h = Accounts::start(2).await;
    h.sim.update_account(AccountUpdate {
        access_token: Some(access(0)),
        risk_limited: Some(true),
        ..AccountUpdate::default()
    });
    let up = h.upstream();
    for _ in 0..3 {
        assert_eq!(ask(&up, Some("s")).await.unwrap(), DEFAULT_TEXT);
    }
    assert_eq!(
        calls(&h),
        (1, 3),
        "one call to the limited account, no retry"
    );
    h.sim.update_account(AccountUpdate {
        access_token: Some(access(0)),
        risk_limited: Some(false),
        ..AccountUpdate::default()
    });
    h.advance(599);
    ask(&up, Some("s")).await.unwrap();
    assert_eq!(calls(&h), (1, 4), "still resting at 599 s");
    h.advance(2);
    ask(&up, Some("s")).await.unwrap();
    assert_eq!(calls(&h), (2, 4), "home again after 600 s");
}

#[tokio::test]
async fn with_one_account_risk_control_and_suspension_stop_the_calls() {
    let cases = [
        (
            "risk control",
            errors::suspicious_activity(),
            ErrorKind::RateLimited,
            "risk control",
        ),
        (
            "suspension",
            errors::suspended(),
            ErrorKind::Credentials,
            "suspended",
        ),
    ];
    for (name, error, kind, fragment) in cases {
        let h = Accounts::start(1).await;
        let up = h.upstream();
        h.fail_account(0, error);
        for _ in 0..3 {
            let e = ask(&up, None).await.unwrap_err();
            assert_eq!(e.kind, kind, "{name}: {}", e.message);
            assert!(e.message.contains(fragment), "{name}: {}", e.message);
        }
        assert_eq!(calls(&h), (1, 0), "{name}: one upstream call, then none");
    }
}

#[tokio::test]
async fn a_model_that_is_briefly_unavailable_is_retried_on_the_same_account() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    h.sim.add_rule(
        Rule::error(errors::model_temporarily_unavailable())
            .times(1)
            .when(Match {
                access_token: Some(access(0)),
                ..Match::default()
            }),
    );
    assert_eq!(ask(&up, Some("s")).await.unwrap(), DEFAULT_TEXT);
    assert_eq!(calls(&h), (2, 0));
    assert_eq!(up.pool().account_state(0).0, AccountState::Active);
}

#[tokio::test]
async fn credits_are_summed_per_account_as_the_simulator_charged_them() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    for _ in 0..3 {
        ask(&up, Some("a")).await.unwrap();
    }
    ask(&up, Some("b")).await.unwrap();
    for i in 0..2 {
        let ours = up.pool().account_state(i).2;
        let charged = h.sim.credits(&access(i)).unwrap();
        assert!(charged > 0.0, "account {i}");
        assert!(
            (ours - charged).abs() < 1e-9,
            "account {i}: {ours} vs {charged}"
        );
    }
    let usage = up.usage().await;
    assert!(
        usage["accounts"][0]["credits_used"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    up.pool().flush();
    let saved = h.state_json();
    assert!(
        saved["accounts"][accounts_harness::id(0)]["credits_used"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[tokio::test]
async fn a_tool_schema_kiro_refuses_is_named_in_the_client_error_and_not_retried() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    let mut request = accounts_harness::request(Some("s"), "use the tool");
    request.tools = vec![conduit_core::Tool {
        name: "pick_one".into(),
        description: "Picks one of two shapes.".into(),
        input_schema: serde_json::json!({"anyOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"b": {"type": "number"}}}
        ]}),
    }];
    let e = match up.send(request).await {
        Ok(stream) => conduit_core::collect(stream).await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{}", e.message);
    assert!(e.message.contains("`pick_one`"), "{}", e.message);
    assert!(e.message.contains("oneOf/anyOf/allOf"), "{}", e.message);
    assert_eq!(calls(&h), (1, 0), "one call, no retry, no failover");
}
