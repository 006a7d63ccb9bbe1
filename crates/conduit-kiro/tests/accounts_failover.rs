//! Multi-account stories against the simulator: sticky sessions, failover on quota, 429 and
//! 5xx storms and back after the cooldown, every account exhausted, and cooldowns that survive
//! a restart. Time is a manual clock: the tests move it, they never sleep through a cooldown.

mod accounts_harness;

use accounts_harness::{ask, id, Accounts};
use conduit_core::ErrorKind;
use conduit_sim::{errors, HttpError, DEFAULT_TEXT};

#[tokio::test]
async fn two_sessions_each_stay_on_their_account() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    for _ in 0..3 {
        ask(&up, Some("session-a")).await.unwrap();
        ask(&up, Some("session-b")).await.unwrap();
    }
    assert_eq!(h.chat_accounts(), vec![0, 1, 0, 1, 0, 1]);
    ask(&up, None).await.unwrap();
    assert_eq!(
        h.chat_accounts().last(),
        Some(&0),
        "no session: the first account"
    );
}

/// (what account 0 answers, chat calls it gets before failing over, the cooldown in seconds)
fn failover_cases() -> Vec<(&'static str, HttpError, usize, u64)> {
    vec![
        ("quota 402", errors::monthly_limit(), 1, 3600),
        ("quota as 400", errors::monthly_limit_400(), 1, 3600),
        ("429 storm", errors::throttling(), 3, 60),
        ("5xx storm", errors::high_load(), 3, 60),
        ("503 storm", errors::service_unavailable(), 3, 60),
    ]
}

#[tokio::test]
async fn a_session_fails_over_and_comes_back_after_the_cooldown() {
    for (name, error, calls, cooldown) in failover_cases() {
        let h = Accounts::start(2).await;
        let up = h.upstream();
        ask(&up, Some("s")).await.unwrap();
        assert_eq!(h.chat_accounts(), vec![0], "{name}: starts on account 0");

        h.fail_account(0, error);
        let text = ask(&up, Some("s")).await;
        assert_eq!(
            text.as_deref(),
            Ok(DEFAULT_TEXT),
            "{name}: the client sees no error"
        );
        let mut expected = vec![0; 1 + calls];
        expected.push(1);
        assert_eq!(
            h.chat_accounts(),
            expected,
            "{name}: same request retried on account 1"
        );

        ask(&up, Some("s")).await.unwrap();
        expected.push(1);
        assert_eq!(
            h.chat_accounts(),
            expected,
            "{name}: stays on 1 while 0 cools down"
        );
        let status = conduit_core::Upstream::status(&up);
        assert!(status.healthy(), "{name}");
        assert_eq!(status.detail["accounts"][0]["healthy"], false, "{name}");

        h.sim.reset();
        h.advance(cooldown - 1);
        ask(&up, Some("s")).await.unwrap();
        assert_eq!(
            h.chat_accounts(),
            vec![1],
            "{name}: still cooling 1 s before the end"
        );
        h.advance(1);
        ask(&up, Some("s")).await.unwrap();
        assert_eq!(h.chat_accounts(), vec![1, 0], "{name}: back on account 0");
    }
}

#[tokio::test]
async fn repeated_storms_double_the_cooldown() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    h.fail_account(0, errors::throttling());
    ask(&up, Some("s")).await.unwrap();
    h.advance(60);
    ask(&up, Some("s")).await.unwrap();
    h.advance(119);
    h.sim.reset();
    ask(&up, Some("s")).await.unwrap();
    assert_eq!(h.chat_accounts(), vec![1], "second cooldown is 120 s");
    h.advance(1);
    ask(&up, Some("s")).await.unwrap();
    assert_eq!(h.chat_accounts(), vec![1, 0]);
}

#[tokio::test]
async fn all_accounts_exhausted_is_one_clear_error() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    h.fail_account(0, errors::monthly_limit());
    h.fail_account(1, errors::monthly_limit());
    let err = ask(&up, Some("s")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(
        err.message.contains("all 2 Kiro accounts"),
        "{}",
        err.message
    );
    assert!(err.message.contains("in 3600 s"), "{}", err.message);
    assert!(err.message.contains("conduit login"), "{}", err.message);
    assert!(!conduit_core::Upstream::status(&up).healthy());

    let calls = h.chat_accounts().len();
    let again = ask(&up, Some("other")).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::RateLimited);
    assert_eq!(
        h.chat_accounts().len(),
        calls,
        "cooling accounts are not called"
    );

    let h = Accounts::start(2).await;
    let up = h.upstream();
    h.fail_account(0, errors::high_load());
    h.fail_account(1, errors::high_load());
    assert_eq!(
        ask(&up, None).await.unwrap_err().kind,
        ErrorKind::Overloaded
    );
}

#[tokio::test]
async fn errors_another_account_would_not_fix_do_not_fail_over() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    h.fail_account(0, errors::improperly_formed());
    let err = ask(&up, Some("s")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(h.chat_accounts(), vec![0]);
}

#[tokio::test]
async fn cooldowns_and_sessions_survive_a_restart() {
    let h = Accounts::start(2).await;
    let up = h.upstream();
    ask(&up, Some("a")).await.unwrap();
    ask(&up, Some("b")).await.unwrap();
    h.fail_account(0, errors::monthly_limit());
    ask(&up, Some("a")).await.unwrap();
    drop(up);

    let state = h.state_json();
    assert_eq!(state["accounts"][id(0)]["reason"], "quota");
    assert!(state["accounts"][id(0)]["cooldown_until"].is_string());
    assert_eq!(state["sessions"]["a"]["home"], id(0));
    assert_eq!(state["sessions"]["a"]["current"], id(1));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.dir.join("state.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    h.sim.reset();
    let up = h.upstream();
    ask(&up, Some("a")).await.unwrap();
    ask(&up, Some("b")).await.unwrap();
    assert_eq!(
        h.chat_accounts(),
        vec![1, 1],
        "account 0 still cools down after the restart"
    );
    h.advance(3600);
    ask(&up, Some("a")).await.unwrap();
    assert_eq!(h.chat_accounts(), vec![1, 1, 0]);
}

#[tokio::test]
async fn without_account_system_only_the_default_account_is_used() {
    let h = Accounts::start(2).await;
    let mut config = h.config();
    config.accounts.mode = conduit_kiro::accounts::AccountMode::Off;
    let up = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    h.fail_account(0, errors::monthly_limit());
    let err = ask(&up, Some("s")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert!(!err.message.contains("all 2"), "{}", err.message);
    assert_eq!(h.chat_accounts(), vec![0]);
    assert!(
        !h.dir.join("state.json").exists(),
        "one account keeps no state"
    );
}
