//! Cases: device authorizations (pending, slow down, approve, issued once even under racing
//! polls, expired, denied).

use conduit_store::{DevicePoll, DeviceStatus, StoreError};

use crate::support::{actor, audit_actions, decided_code, digest, new_user, now, race2, Db};

pub async fn device_code_lifecycle(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let (dev, user_code) = (digest("device-1"), digest("BCDF-GHJK"));
    let code = s
        .create_device_code(&dev, &user_code, t + 600, 5)
        .await
        .unwrap();
    assert_eq!(
        (code.status, code.interval, code.last_poll_at),
        (DeviceStatus::Pending, 5, None)
    );
    let err = s
        .create_device_code(&digest("device-2"), &user_code, t + 600, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.device_by_user_code(&user_code).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(
        s.device_by_user_code(&digest("XXXX-XXXX")).await.unwrap(),
        None
    );

    let poll = |at: i64, refresh: &'static str| {
        let dev = dev.clone();
        async move {
            s.poll_device_code(&dev, &digest(refresh), t + 86_400, at)
                .await
                .unwrap()
        }
    };
    // (seconds after t, what the poll gets): the interval counts from the last poll.
    for (after, want) in [
        (0, DevicePoll::Pending),
        (1, DevicePoll::SlowDown),
        (6, DevicePoll::Pending),
    ] {
        assert_eq!(poll(t + after, "r0").await, want, "poll at t+{after}");
    }
    let polled = s.device_by_user_code(&user_code).await.unwrap().unwrap();
    assert_eq!(polled.last_poll_at, Some(t + 6));

    assert!(s
        .decide_device_code(&code.id, Some(&u.id), &actor())
        .await
        .unwrap());
    assert!(
        !s.decide_device_code(&code.id, None, &actor())
            .await
            .unwrap(),
        "decided once"
    );
    assert_eq!(
        poll(t + 8, "r0").await,
        DevicePoll::SlowDown,
        "approved, but too soon"
    );
    let issued = poll(t + 13, "r0").await;
    let DevicePoll::Issued { user_id, family_id } = issued else {
        panic!("expected Issued, got {issued:?}");
    };
    assert_eq!(user_id, u.id);
    assert!(s.family_alive(&family_id, t + 13).await.unwrap());
    assert!(
        !s.family_alive(&family_id, t + 86_400).await.unwrap(),
        "ends"
    );
    for (after, refresh) in [(20, "r1"), (700, "r2")] {
        assert_eq!(
            poll(t + after, refresh).await,
            DevicePoll::Expired,
            "consumed"
        );
    }
    let row = s.device_by_user_code(&user_code).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.user_id),
        (DeviceStatus::Consumed, Some(u.id))
    );
    let unknown = s
        .poll_device_code(&digest("nope"), &digest("r3"), t + 100, t)
        .await
        .unwrap();
    assert_eq!(unknown, DevicePoll::Expired);
    assert_eq!(audit_actions(s).await, ["user.create", "device.approve"]);
}

pub async fn device_code_denied_and_expired(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let denied = decided_code(s, "d1", "u1", t + 600, None, true).await;
    assert!(!s
        .decide_device_code(&denied.id, Some(&u.id), &actor())
        .await
        .unwrap());
    let got = s
        .poll_device_code(&digest("d1"), &digest("r"), t + 99, t)
        .await
        .unwrap();
    assert_eq!(got, DevicePoll::Denied);

    // Expired before anyone decided: no decision, polls expired.
    decided_code(s, "d2", "u2", t - 1, Some(&u.id), false).await;
    // Approved in time, polled only after expiry.
    decided_code(s, "d3", "u3", t + 30, Some(&u.id), true).await;
    for device in ["d2", "d3"] {
        let got = s
            .poll_device_code(&digest(device), &digest("r"), t + 99, t + 30)
            .await
            .unwrap();
        assert_eq!(got, DevicePoll::Expired, "{device}");
    }
    // Approved, then the user deactivated: consumed without tokens.
    decided_code(s, "d4", "u4", t + 600, Some(&u.id), true).await;
    s.set_user_active(&u.id, false, &actor()).await.unwrap();
    for want in [DevicePoll::Denied, DevicePoll::Expired] {
        let got = s
            .poll_device_code(&digest("d4"), &digest("r4"), t + 99, t)
            .await
            .unwrap();
        assert_eq!(got, want);
    }
    assert_eq!(
        audit_actions(s).await,
        [
            "user.create",
            "device.deny",
            "device.approve",
            "device.approve",
            "user.update"
        ]
    );
}

/// Two polls racing on an approved code (two store handles): exactly one gets the tokens.
pub async fn device_poll_race_issues_once(db: &Db) {
    let s = &db.store;
    let other = db.second_handle().await;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    for round in 0..8 {
        let (dev, uc) = (format!("device-{round}"), format!("uc-{round}"));
        decided_code(s, &dev, &uc, t + 600, Some(&u.id), true).await;
        let outcomes = race2(s, &other, |store, who| {
            let dev = digest(&dev);
            let refresh = digest(&format!("refresh-{round}-{who}"));
            async move {
                store
                    .poll_device_code(&dev, &refresh, t + 3600, t)
                    .await
                    .unwrap()
            }
        })
        .await;
        let issued = outcomes
            .iter()
            .filter(|o| matches!(o, DevicePoll::Issued { .. }))
            .count();
        assert_eq!(issued, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.contains(&DevicePoll::Expired),
            "round {round}: {outcomes:?}"
        );
    }
    other.close().await;
}
