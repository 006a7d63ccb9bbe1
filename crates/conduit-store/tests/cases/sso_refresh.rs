//! Cases: refresh-token families (rotation, replay refused alone, revocation, hard end,
//! deactivation, racing rotations).

use conduit_store::RefreshOutcome;

use crate::support::{actor, audit_actions, digest, issue_family, new_user, now, race2, Db};

pub async fn refresh_rotation_replay_and_revoke(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let fam = issue_family(s, &u.id, "r0", t + 3600).await;
    let rotated = RefreshOutcome::Rotated {
        user_id: u.id.clone(),
        family_id: fam.clone(),
    };
    let rotate = |old: &'static str, new: &'static str| async move {
        s.rotate_refresh(&digest(old), &digest(new), t)
            .await
            .unwrap()
    };
    // (presented, new, outcome), in order: a used token is a replay that leaves the family be.
    let steps = [
        ("r0", "r1", rotated.clone()),
        ("r0", "r2", RefreshOutcome::Replayed),
        ("r1", "r3", rotated.clone()),
        ("r1", "r4", RefreshOutcome::Replayed),
        ("r2", "r5", RefreshOutcome::Invalid),
        ("unknown", "r6", RefreshOutcome::Invalid),
    ];
    for (old, new, want) in steps {
        assert_eq!(rotate(old, new).await, want, "{old} → {new}");
    }
    assert!(s.family_alive(&fam, t).await.unwrap());

    let before = s.version().await.unwrap();
    assert!(
        s.revoke_refresh(&digest("r1"), &actor()).await.unwrap(),
        "any token of it"
    );
    assert!(
        s.version().await.unwrap() > before,
        "revocation is a change"
    );
    assert!(!s.family_alive(&fam, t).await.unwrap());
    for (old, new) in [("r3", "r7"), ("r0", "r8")] {
        assert_eq!(
            rotate(old, new).await,
            RefreshOutcome::Invalid,
            "{old} after revoke"
        );
    }
    assert!(
        !s.revoke_refresh(&digest("r3"), &actor()).await.unwrap(),
        "revoked already"
    );
    assert!(!s
        .revoke_refresh(&digest("unknown"), &actor())
        .await
        .unwrap());
    assert!(!s.revoke_family(&fam, &actor()).await.unwrap());

    let other = issue_family(s, &u.id, "q0", t + 3600).await;
    assert!(s.revoke_family(&other, &actor()).await.unwrap());
    assert_eq!(rotate("q0", "q1").await, RefreshOutcome::Invalid);
    let revokes = s.list_audit(10, None).await.unwrap();
    assert_eq!(revokes[0].action, "token.revoke");
    assert_eq!(revokes[0].detail["family_id"], other.as_str());
    let actions = audit_actions(s).await;
    assert_eq!(actions.iter().filter(|a| *a == "token.revoke").count(), 2);
}

pub async fn refresh_family_hard_end(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let fam = issue_family(s, &u.id, "r0", t + 100).await;
    let got = s
        .rotate_refresh(&digest("r0"), &digest("r1"), t + 99)
        .await
        .unwrap();
    assert!(matches!(got, RefreshOutcome::Rotated { .. }), "{got:?}");
    assert!(s.family_alive(&fam, t + 99).await.unwrap());
    assert!(!s.family_alive(&fam, t + 100).await.unwrap());
    for (old, new) in [("r1", "r2"), ("r0", "r3")] {
        let got = s
            .rotate_refresh(&digest(old), &digest(new), t + 100)
            .await
            .unwrap();
        assert_eq!(got, RefreshOutcome::Invalid, "{old} at the end");
    }
}

pub async fn deactivating_a_user_revokes_their_families(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let v = s.create_user(&new_user("v"), &actor()).await.unwrap();
    let f1 = issue_family(s, &u.id, "a0", t + 3600).await;
    let f2 = issue_family(s, &u.id, "b0", t + 3600).await;
    let fv = issue_family(s, &v.id, "c0", t + 3600).await;
    s.set_user_active(&u.id, false, &actor()).await.unwrap();
    let entry = &s.list_audit(1, None).await.unwrap()[0];
    assert_eq!(entry.detail["token_families_revoked"], 2);
    s.set_user_active(&u.id, true, &actor()).await.unwrap();
    for fam in [&f1, &f2] {
        assert!(!s.family_alive(fam, t).await.unwrap(), "revoked for good");
    }
    let got = s
        .rotate_refresh(&digest("a0"), &digest("a1"), t)
        .await
        .unwrap();
    assert_eq!(got, RefreshOutcome::Invalid);
    assert!(
        s.family_alive(&fv, t).await.unwrap(),
        "another user's family lives"
    );
    let got = s
        .rotate_refresh(&digest("c0"), &digest("c1"), t)
        .await
        .unwrap();
    assert!(matches!(got, RefreshOutcome::Rotated { .. }), "{got:?}");
}

/// Two rotations of one token racing (two store handles): one rotates, one is a replay.
pub async fn refresh_race_rotates_once(db: &Db) {
    let s = &db.store;
    let other = db.second_handle().await;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    for round in 0..8 {
        let first = format!("r-{round}");
        issue_family(s, &u.id, &first, t + 3600).await;
        let outcomes = race2(s, &other, |store, who| {
            let (old, new) = (digest(&first), digest(&format!("{first}-{who}")));
            async move { store.rotate_refresh(&old, &new, t).await.unwrap() }
        })
        .await;
        let rotated = outcomes
            .iter()
            .filter(|o| matches!(o, RefreshOutcome::Rotated { .. }))
            .count();
        assert_eq!(rotated, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.contains(&RefreshOutcome::Replayed),
            "round {round}: {outcomes:?}"
        );
    }
    other.close().await;
}
