//! Cases: browser flows (taken once, expiry) and command-line sign-ins (browser binding,
//! read once, expiry).

use conduit_store::{CliPoll, CliStatus, Flow, FlowPurpose, NewFlow, StoreError};

use crate::support::{actor, digest, new_flow_at, new_user, now, Db};

/// [`new_flow_at`] for the device page: its own nonce and verifier, a target.
fn new_flow(state: &str, expires_at: i64) -> NewFlow {
    NewFlow {
        purpose: FlowPurpose::Device,
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        target: Some("device-id".into()),
        ..new_flow_at(state, expires_at)
    }
}

pub async fn flow_taken_once_and_expired_refused(db: &Db) {
    let s = &db.store;
    let t = now();
    let live = new_flow("live", t + 600);
    s.create_flow(&live).await.unwrap();
    let err = s.create_flow(&live).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let taken: Flow = s.take_flow(&live.state_digest, t).await.unwrap().unwrap();
    assert_eq!(
        (taken.purpose, taken.nonce.as_str(), taken.target.as_deref()),
        (FlowPurpose::Device, "nonce-live", Some("device-id"))
    );
    assert_eq!(
        (taken.pkce_verifier.as_str(), taken.binding_digest),
        ("verifier-live", digest("cookie"))
    );
    assert_eq!(taken.expires_at, t + 600);
    assert!(taken.created_at >= t);
    assert_eq!(
        s.take_flow(&live.state_digest, t).await.unwrap(),
        None,
        "once"
    );

    let old = new_flow("old", t + 10);
    s.create_flow(&old).await.unwrap();
    assert_eq!(
        s.take_flow(&old.state_digest, t + 10).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        s.take_flow(&old.state_digest, t).await.unwrap(),
        None,
        "and gone"
    );
    assert_eq!(s.take_flow(&digest("unknown"), t).await.unwrap(), None);
}

pub async fn cli_session_bound_completed_taken_once(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let challenge = digest("verifier-1");
    let browser = digest("browser-1");
    let cli = s
        .create_cli_session(&challenge, &browser, t + 300)
        .await
        .unwrap();
    assert_eq!(cli.status, CliStatus::Pending);
    let err = s
        .create_cli_session(&challenge, &browser, t + 300)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.cli_session(&cli.id).await.unwrap(), Some(cli.clone()));

    assert_eq!(
        s.take_cli_session(&challenge, t).await.unwrap(),
        CliPoll::Pending
    );
    assert!(
        !s.complete_cli_session(&cli.id, &browser, t).await.unwrap(),
        "not verified"
    );
    let verified = s.verify_cli_session(&cli.id, &u.id, t).await.unwrap();
    let verified = verified.expect("verified");
    assert_eq!(
        (
            verified.status,
            verified.user_id.as_deref(),
            verified.authorize
        ),
        (CliStatus::Verified, Some(u.id.as_str()), None)
    );
    assert!(
        s.verify_cli_session(&cli.id, &u.id, t)
            .await
            .unwrap()
            .is_none(),
        "once"
    );
    assert_eq!(
        s.take_cli_session(&challenge, t).await.unwrap(),
        CliPoll::Pending
    );
    let other_browser = digest("browser-2");
    assert!(!s
        .complete_cli_session(&cli.id, &other_browser, t)
        .await
        .unwrap());
    assert_eq!(
        s.cli_session(&cli.id).await.unwrap().unwrap().status,
        CliStatus::Verified,
        "another browser's confirmation changes nothing"
    );
    assert!(s.complete_cli_session(&cli.id, &browser, t).await.unwrap());
    assert!(!s.complete_cli_session(&cli.id, &browser, t).await.unwrap());
    let got = s.take_cli_session(&challenge, t).await.unwrap();
    assert_eq!(
        got,
        CliPoll::Complete {
            user_id: u.id.clone()
        }
    );
    assert_eq!(
        s.take_cli_session(&challenge, t).await.unwrap(),
        CliPoll::NotFound,
        "read once"
    );
    let row = s.cli_session(&cli.id).await.unwrap().unwrap();
    assert_eq!((row.status, row.user_id), (CliStatus::Consumed, Some(u.id)));
    let unknown = s.take_cli_session(&digest("other"), t).await.unwrap();
    assert_eq!(unknown, CliPoll::NotFound);
    assert_eq!(s.cli_session("nope").await.unwrap(), None);
}

/// Each step refused once the session has expired (at `expires_at` exactly).
pub async fn cli_session_expired_refused(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let browser = digest("browser");
    // (how far the session got before it expired, the poll after expiry)
    for (steps, n) in [(0, 1), (1, 2), (2, 3)] {
        let challenge = digest(&format!("verifier-{n}"));
        let cli = s
            .create_cli_session(&challenge, &browser, t + 5)
            .await
            .unwrap();
        if steps >= 1 {
            let verified = s.verify_cli_session(&cli.id, &u.id, t).await.unwrap();
            assert!(verified.is_some());
        }
        if steps >= 2 {
            assert!(s.complete_cli_session(&cli.id, &browser, t).await.unwrap());
        }
        let end = t + 5;
        let late = s.verify_cli_session(&cli.id, &u.id, end).await.unwrap();
        assert!(late.is_none());
        assert!(!s
            .complete_cli_session(&cli.id, &browser, end)
            .await
            .unwrap());
        let polled = s.take_cli_session(&challenge, end).await.unwrap();
        assert_eq!(polled, CliPoll::Expired, "after {steps} steps");
    }
}
