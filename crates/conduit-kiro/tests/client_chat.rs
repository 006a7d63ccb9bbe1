//! Stories of the Kiro client against the simulator: text, throttling, overload, slow first
//! token, context overflow, monthly quota, and a rejected bearer token.

mod client_harness;

use client_harness::{ask, Harness, Token, ACCESS};
use conduit_core::ErrorKind;
use conduit_sim::{errors, HttpError, Rule, Step, DEFAULT_TEXT};

#[tokio::test]
async fn a_request_gets_text_with_the_kiro_headers() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::reply(vec![Step::text_chunked(
        "Hi there, friend.",
        4,
    )]));
    let text = ask(&h.upstream(), "hello").await.unwrap();
    assert_eq!(text, "Hi there, friend.");
    let log = h.sim.log();
    let chat = log
        .iter()
        .find(|e| e.path == "/generateAssistantResponse")
        .unwrap();
    assert_eq!(chat.bearer(), Some(ACCESS));
    let header = |k: &str| chat.headers.get(k).map(String::as_str);
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("x-amzn-codewhisperer-optout"), Some("true"));
    assert_eq!(header("x-amzn-kiro-agent-mode"), Some("vibe"));
    assert_eq!(header("amz-sdk-request"), Some("attempt=1; max=3"));
    assert!(header("user-agent").unwrap().contains("KiroIDE-"));
    assert_eq!(header("amz-sdk-invocation-id").map(str::len), Some(36));
    assert_eq!(h.refreshes(), 0, "a valid token is not refreshed");
}

#[tokio::test]
async fn the_aws_json_binding_posts_to_root_with_a_target() {
    let h = Harness::start(Token::Valid).await;
    let mut config = h.config();
    config.binding = conduit_kiro::config::Binding::AwsJson;
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    let log: Vec<_> = h
        .sim
        .log()
        .into_iter()
        .filter(|e| e.path != "/ListAvailableModels")
        .collect();
    assert_eq!(log[0].path, "/");
    assert_eq!(
        log[0].headers.get("content-type").map(String::as_str),
        Some("application/x-amz-json-1.0")
    );
}

/// (reply, expected kind, chat calls made, substring of the message)
fn error_cases() -> Vec<(HttpError, ErrorKind, usize, &'static str)> {
    vec![
        (
            errors::throttling(),
            ErrorKind::RateLimited,
            3,
            "throttling",
        ),
        (errors::high_load(), ErrorKind::Overloaded, 3, "overloaded"),
        (
            errors::service_unavailable(),
            ErrorKind::Overloaded,
            3,
            "overloaded",
        ),
        (
            errors::monthly_limit(),
            ErrorKind::RateLimited,
            1,
            "monthly request quota",
        ),
        (
            errors::monthly_limit_400(),
            ErrorKind::RateLimited,
            1,
            "monthly request quota",
        ),
        (
            errors::improperly_formed(),
            ErrorKind::InvalidRequest,
            1,
            "Improperly formed request.",
        ),
        (
            errors::context_overflow(),
            ErrorKind::ContextOverflow {
                tokens: 200_001,
                max: 200_000,
            },
            1,
            "prompt is too long",
        ),
        (
            errors::not_authorized(),
            ErrorKind::Credentials,
            1,
            "PROFILE_ARN",
        ),
    ]
}

#[tokio::test]
async fn upstream_errors_become_the_right_kind_after_bounded_retries() {
    for (reply, kind, calls, needle) in error_cases() {
        let h = Harness::start(Token::Valid).await;
        h.sim.add_rule(Rule::error(reply.clone()));
        let err = ask(&h.upstream(), "hello").await.unwrap_err();
        assert_eq!(err.kind, kind, "{reply:?}");
        assert!(err.message.contains(needle), "{reply:?}: {}", err.message);
        assert_eq!(h.chats(), calls, "{reply:?}");
        if err.kind == ErrorKind::RateLimited && calls == 1 {
            assert!(!err.retryable, "the monthly quota is not worth retrying");
        }
    }
}

#[tokio::test]
async fn a_short_throttling_spike_is_ridden_out() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::error(errors::throttling()).times(2));
    assert_eq!(ask(&h.upstream(), "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.chats(), 3);
    let attempts: Vec<_> = h
        .sim
        .log()
        .iter()
        .filter(|e| e.path != "/ListAvailableModels")
        .map(|e| {
            e.headers
                .get("amz-sdk-request")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        attempts,
        ["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]
    );
}

#[tokio::test]
async fn a_slow_first_token_is_resent_then_succeeds() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::reply(vec![Step::delay_ms(5_000), Step::text("too late")]).times(1));
    assert_eq!(ask(&h.upstream(), "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.chats(), 2);
}

#[tokio::test]
async fn a_silent_upstream_times_out_after_the_configured_resends() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::reply(vec![
        Step::delay_ms(5_000),
        Step::text("too late"),
    ]));
    let mut config = h.config();
    config.first_token_max_retries = 2;
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    let err = ask(&upstream, "hello").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert_eq!(h.chats(), 3, "one send plus two resends");
}

#[tokio::test]
async fn an_invalid_bearer_forces_one_refresh_then_succeeds() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::error(errors::invalid_bearer()).times(1));
    assert_eq!(ask(&h.upstream(), "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.refreshes(), 1);
    let bearers: Vec<_> = h
        .sim
        .log()
        .iter()
        .filter(|e| e.path == "/generateAssistantResponse")
        .map(|e| e.bearer().unwrap_or_default().to_string())
        .collect();
    assert_eq!(bearers.len(), 2);
    assert_eq!(bearers[0], ACCESS);
    assert_ne!(bearers[1], ACCESS, "the retry uses the refreshed token");
    assert_eq!(h.token_file()["accessToken"], bearers[1].as_str());
}

#[tokio::test]
async fn a_token_that_expires_again_after_being_accepted_is_refreshed_again() {
    // 403 → refresh → the new token is accepted (a slow 200) → resend → 403 again (it expired
    // meanwhile) → a second refresh, not "run conduit login".
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::error(errors::invalid_bearer()).times(1));
    h.sim
        .add_rule(Rule::reply(vec![Step::delay_ms(5_000), Step::text("too late")]).times(1));
    h.sim
        .add_rule(Rule::error(errors::invalid_bearer()).times(1));
    assert_eq!(ask(&h.upstream(), "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!((h.refreshes(), h.chats()), (2, 4));
}

#[tokio::test]
async fn a_bearer_rejected_even_after_refresh_is_a_credentials_error() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::error(errors::invalid_bearer()));
    let err = ask(&h.upstream(), "hello").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials);
    assert!(err.message.contains("conduit login"), "{}", err.message);
    assert_eq!((h.refreshes(), h.chats()), (1, 2));
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_an_upstream_protocol_error() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::reply(vec![Step::text("partial"), Step::cut()]));
    let err = ask(&h.upstream(), "hello").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::UpstreamProtocol, "{}", err.message);
}

#[tokio::test]
async fn an_unreachable_upstream_is_overloaded_after_retries() {
    let h = Harness::start(Token::Valid).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = h.config();
    config.api_url = Some(format!("http://127.0.0.1:{port}"));
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    let started = std::time::Instant::now();
    let err = ask(&upstream, "hello").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Overloaded, "{}", err.message);
    assert!(err.message.contains("could not connect"), "{}", err.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
