#![allow(clippy::unwrap_used)]

use std::time::Duration;

use conduit_store::{RateLimit, Role};
use conduit_upstream::clock::ManualClock;
use time::OffsetDateTime;

use super::*;
use crate::team::PrincipalKind;

fn key(rpm: Option<i64>) -> Principal {
    Principal {
        credential_id: "k1".into(),
        kind: PrincipalKind::Key,
        user_id: Some("u1".into()),
        subject: None,
        team_id: Some("t1".into()),
        role: Role::Member,
        rate_limit_rpm: rpm,
    }
}

fn row(
    scope: RateScope,
    id: &str,
    rpm: Option<i64>,
    tpm: Option<i64>,
    max: Option<i64>,
) -> RateLimit {
    RateLimit {
        scope_type: scope,
        scope_id: id.into(),
        rpm,
        tpm,
        max_streams: max,
        updated_at: 0,
    }
}

/// A limiter counting in memory on a manual clock at a window start + `secs`, with `rows`.
fn local_at(secs: i64, rows: &[RateLimit]) -> (Limiter, Arc<ManualClock>) {
    let start = OffsetDateTime::from_unix_timestamp(6_000 + secs).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let options = Options {
        clock: clock.clone(),
        ..Options::default()
    };
    let limiter = Limiter::new(
        Counter::Local(local::Local::default()),
        Rules::new(None),
        &options,
    );
    limiter.rules.replace(RuleSet::from_rows(rows));
    (limiter, clock)
}

fn local_counters(limiter: &Limiter) -> (Vec<String>, usize) {
    let Counter::Local(local) = &limiter.shared.counter else {
        panic!("local")
    };
    local.counters()
}

#[tokio::test]
async fn counts_per_minute_with_a_sliding_estimate() {
    let limiter = Limiter::local();
    let k = key(Some(3));
    let t0 = 6_000; // a window start
    for _ in 0..3 {
        limiter.admit_at(&k, t0 + 10).await.unwrap();
    }
    let e = limiter.admit_at(&k, t0 + 20).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(40));
    assert!(
        e.message
            .contains("this key's rate limit of 3 requests per minute"),
        "{e:?}"
    );
    // Next window, 1 s in: 3 * 59/60 + 1 > 3, refused; half-way: 1.5 + 1 ≤ 3, admitted.
    assert!(limiter.admit_at(&k, t0 + 61).await.is_err());
    limiter.admit_at(&k, t0 + 90).await.unwrap();
    // Two windows later the old counts are gone, and so are idle counters.
    for _ in 0..3 {
        limiter.admit_at(&k, t0 + 300).await.unwrap();
    }
    let other = Principal {
        credential_id: "k2".into(),
        ..key(Some(3))
    };
    limiter.admit_at(&other, t0 + 420).await.unwrap();
    assert_eq!(local_counters(&limiter).0, ["rpm:key:k2"]);
}

#[tokio::test]
async fn callers_without_a_limit_are_not_counted() {
    let (limiter, _) = local_at(
        0,
        &[row(RateScope::User, "someone-else", Some(1), None, None)],
    );
    for _ in 0..1000 {
        let admission = limiter.admit(&key(None)).await.unwrap();
        assert_eq!(admission.leases(), 0);
    }
    assert_eq!(local_counters(&limiter), (vec![], 0));
    // And with no rules at all, nothing is even looked up.
    let limiter = Limiter::local();
    assert!(limiter.rules.is_empty());
    limiter.admit(&key(None)).await.unwrap();
    assert_eq!(local_counters(&limiter), (vec![], 0));
}

/// Each scope's limit, and the tighter of a key's own RPM and its rule.
#[tokio::test]
async fn each_scope_refuses_on_its_own_limit() {
    struct Case {
        rows: Vec<RateLimit>,
        own_rpm: Option<i64>,
        admitted: usize,
        message: &'static str,
    }
    let cases = [
        Case {
            rows: vec![row(RateScope::User, "u1", Some(2), None, None)],
            own_rpm: None,
            admitted: 2,
            message: "this user's rate limit of 2 requests per minute",
        },
        Case {
            rows: vec![row(RateScope::Team, "t1", Some(4), None, None)],
            own_rpm: Some(10),
            admitted: 4,
            message: "this team's rate limit of 4 requests per minute",
        },
        Case {
            rows: vec![row(RateScope::Key, "k1", Some(5), None, None)],
            own_rpm: Some(3),
            admitted: 3,
            message: "this key's rate limit of 3 requests per minute",
        },
        Case {
            rows: vec![row(RateScope::Team, "t1", None, None, Some(2))],
            own_rpm: None,
            admitted: 2,
            message: "this team's limit of 2 concurrent streams",
        },
        Case {
            // Limits of zero or less are no limits.
            rows: vec![row(RateScope::User, "u1", Some(0), Some(-1), Some(0))],
            own_rpm: None,
            admitted: 50,
            message: "",
        },
    ];
    for case in cases {
        let (limiter, _) = local_at(5, &case.rows);
        let principal = key(case.own_rpm);
        let mut held = Vec::new();
        for _ in 0..case.admitted {
            held.push(limiter.admit(&principal).await.unwrap());
        }
        if case.message.is_empty() {
            continue;
        }
        let e = limiter.admit(&principal).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.message.contains(case.message), "{}: {e:?}", case.message);
    }
}

/// A refusal by one scope counts nothing in the others.
#[tokio::test]
async fn a_refused_request_counts_nowhere() {
    let rows = [
        row(RateScope::User, "u1", Some(100), None, Some(1)),
        row(RateScope::Team, "t1", Some(1), None, None),
    ];
    let (limiter, _) = local_at(5, &rows);
    let _first = limiter.admit(&key(None)).await.unwrap();
    // The team refuses (RPM): nothing of the second request is counted anywhere.
    let other = Principal {
        user_id: Some("u2".into()),
        ..key(None)
    };
    assert!(limiter.admit(&other).await.is_err());
    let Counter::Local(local) = &limiter.shared.counter else {
        panic!()
    };
    let (names, streams) = local.counters();
    assert_eq!(names, ["rpm:team:t1", "rpm:user:u1"]);
    assert_eq!(streams, 1);
}

#[tokio::test]
async fn streams_are_held_until_the_admission_drops() {
    let (limiter, _) = local_at(5, &[row(RateScope::User, "u1", None, None, Some(2))]);
    let a = limiter.admit(&key(None)).await.unwrap();
    let b = limiter.admit(&key(None)).await.unwrap();
    assert_eq!(a.leases(), 1);
    let e = limiter.admit(&key(None)).await.unwrap_err();
    assert_eq!(e.retry_after, Some(1));
    drop(a);
    let c = limiter.admit(&key(None)).await.unwrap();
    drop((b, c));
    assert_eq!(local_counters(&limiter).1, 0);
}

#[tokio::test]
async fn tokens_per_minute_refuse_once_the_window_has_them() {
    let (limiter, clock) = local_at(0, &[row(RateScope::Key, "k1", None, Some(1000), None)]);
    let mut a = limiter.admit(&key(None)).await.unwrap();
    a.record_tokens(600);
    // Not counted before the request ends.
    let mut b = limiter.admit(&key(None)).await.unwrap();
    drop(a);
    b.record_tokens(400);
    drop(b);
    let e = limiter.admit(&key(None)).await.unwrap_err();
    assert!(e.message.contains("1000 tokens per minute"), "{e:?}");
    assert_eq!(e.retry_after, Some(60));
    // Half-way through the next window the estimate is 500: admitted again.
    clock.advance(Duration::from_secs(90));
    limiter.admit(&key(None)).await.unwrap();
}
