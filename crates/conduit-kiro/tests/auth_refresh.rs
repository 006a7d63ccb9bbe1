//! Stories of Kiro credential refresh against the simulator: an expired token file is refreshed
//! once and rewritten privately, concurrent callers share one refresh, a dead refresh token is
//! reported once and not hammered.

mod client_harness;

use std::sync::Arc;

use client_harness::{ask, Harness, Token, ACCESS, ARN, REFRESH};
use conduit_core::ErrorKind;
use conduit_sim::DEFAULT_TEXT;

#[tokio::test]
async fn an_expired_token_file_is_refreshed_once_and_rewritten_privately() {
    let h = Harness::start(Token::Expired).await;
    let upstream = h.upstream();
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.refreshes(), 1);

    let file = h.token_file();
    let (access, refresh) = h.sim.current_tokens(REFRESH).unwrap();
    assert_eq!(file["accessToken"], access.as_str());
    assert_eq!(
        file["refreshToken"],
        refresh.as_str(),
        "the rotated refresh token is persisted"
    );
    assert_ne!(refresh, REFRESH);
    assert_ne!(file["expiresAt"], "2020-01-01T00:00:00.000Z");
    assert_eq!(
        file["someFutureKey"]["kept"], true,
        "unknown keys are preserved"
    );
    assert_eq!(file["provider"], "Github");
    assert_eq!(file["profileArn"], ARN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&h.creds_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let leftovers = std::fs::read_dir(&h.dir).unwrap().count();
    assert_eq!(leftovers, 1, "no temp files left behind");

    // The new token is used from now on; no further refresh.
    ask(&upstream, "again").await.unwrap();
    assert_eq!(h.refreshes(), 1);
    let last = h.sim.log().last().cloned().unwrap();
    assert_eq!(last.bearer(), Some(access.as_str()));

    let status = upstream.credential_status();
    assert!(status.healthy);
    assert_eq!(status.profile_arn.as_deref(), Some(ARN));
    assert_eq!(status.refresh_calls, 1);
    assert!(status.last_refresh.is_some());
    let shown = serde_json::to_string(&status).unwrap();
    assert!(
        !shown.contains(&access) && !shown.contains(&refresh),
        "status never shows tokens"
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_with_an_expired_token_cause_one_refresh() {
    let h = Harness::start(Token::Expired).await;
    let upstream = Arc::new(h.upstream());
    let tasks = (0..50).map(|i| {
        let upstream = Arc::clone(&upstream);
        async move { ask(&upstream, &format!("hello {i}")).await }
    });
    let results = futures::future::join_all(tasks).await;
    for r in results {
        assert_eq!(r.unwrap(), DEFAULT_TEXT);
    }
    assert_eq!(h.refreshes(), 1);
    assert_eq!(h.chats(), 50);
    assert!(h
        .sim
        .log()
        .iter()
        .filter(|e| e.path == "/generateAssistantResponse")
        .all(|e| e.bearer() != Some(ACCESS)));
}

#[tokio::test]
async fn a_dead_refresh_token_fails_once_and_is_not_retried_immediately() {
    let h = Harness::start(Token::Expired).await;
    assert!(h.sim.revoke_refresh_token(REFRESH));
    let upstream = h.upstream();
    for _ in 0..3 {
        let err = ask(&upstream, "hello").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Credentials);
        assert_eq!(
            err.message,
            "Kiro credentials expired and could not be refreshed: run `conduit login`"
        );
    }
    assert_eq!(h.refreshes(), 1, "the failure is remembered");
    assert_eq!(h.chats(), 0);
    let status = upstream.credential_status();
    assert!(!status.healthy);
    assert!(status.last_error.unwrap().contains("invalid_grant"));
    assert_eq!(
        h.token_file()["refreshToken"],
        REFRESH,
        "a failed refresh leaves the file alone"
    );
}

#[tokio::test]
async fn a_dead_refresh_token_is_tried_again_after_the_backoff() {
    let h = Harness::start(Token::Expired).await;
    assert!(h.sim.revoke_refresh_token(REFRESH));
    let mut config = h.config();
    // Long enough that one request's calls (model list, then chat) fall inside it.
    config.refresh_failure_backoff = std::time::Duration::from_millis(400);
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    ask(&upstream, "hello").await.unwrap_err();
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    ask(&upstream, "hello").await.unwrap_err();
    assert_eq!(h.refreshes(), 2);
}

#[tokio::test]
async fn rejected_tokens_while_the_token_service_is_down_cause_one_refresh_per_backoff() {
    let h = Harness::start(Token::Valid).await;
    let mut config = h.config();
    config.refresh_retry_backoff = std::time::Duration::from_millis(300);
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    assert!(h.sim.expire_access_token(ACCESS));
    h.sim.configure(conduit_sim::ConfigPatch {
        refresh_outage: Some(true),
        ..Default::default()
    });
    for _ in 0..5 {
        let err = ask(&upstream, "hello").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Overloaded, "{}", err.message);
        assert!(err.message.contains("could not refresh"), "{}", err.message);
    }
    assert_eq!(h.refreshes(), 1, "one refresh call, not one per request");
    h.sim.configure(conduit_sim::ConfigPatch {
        refresh_outage: Some(false),
        ..Default::default()
    });
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.refreshes(), 2);
}

#[tokio::test]
async fn an_env_refresh_token_is_refreshed_and_its_rotation_kept_in_the_data_dir() {
    let h = Harness::start(Token::Valid).await;
    let mut config = h.config();
    config.creds_file = None;
    config.refresh_token = Some(REFRESH.into());
    config.profile_arn = Some(ARN.into());
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config.clone()).unwrap();
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(
        h.refreshes(),
        1,
        "a bare refresh token has no access token yet"
    );
    drop(upstream);

    // A restart with the same (now rotated upstream) env token picks up the saved rotation.
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.refreshes(), 1);
    let saved = std::fs::read_to_string(h.dir.join(conduit_kiro::auth::ENV_TOKEN_FILE)).unwrap();
    assert!(
        !saved.contains(REFRESH),
        "the original env token is stored only as a hash"
    );
}

#[tokio::test]
async fn a_token_file_refreshed_by_the_ide_is_adopted_without_a_refresh_call() {
    let h = Harness::start(Token::Expired).await;
    let upstream = h.upstream();
    // The Kiro IDE refreshes behind our back: new tokens on disk, the old refresh token dead.
    let mut file = h.token_file();
    file["refreshToken"] = "ide-rotated".into();
    file["expiresAt"] = "2099-01-01T00:00:00.000Z".into();
    std::fs::write(&h.creds_file, serde_json::to_vec(&file).unwrap()).unwrap();
    assert!(h.sim.revoke_refresh_token(REFRESH));
    assert_eq!(ask(&upstream, "hello").await.unwrap(), DEFAULT_TEXT);
    assert_eq!(h.refreshes(), 0);
    assert!(upstream.credential_status().healthy);
}
