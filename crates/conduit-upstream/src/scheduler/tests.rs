//! Scheduler behaviour: sticky sessions, cooldowns and their doubling, quota resets, the way
//! home, suspensions, the exhausted error, bounded sessions.

use std::time::Duration;

use time::OffsetDateTime;

use super::*;

fn sched(n: usize) -> Scheduler {
    let ids = (0..n).map(|i| format!("acc_{i}")).collect();
    Scheduler::new(
        SchedulerConfig {
            cooldown_base: Duration::from_secs(60),
            cooldown_cap: Duration::from_secs(600),
            quota_cooldown: Duration::from_secs(3600),
            risk_cooldown: Duration::from_secs(600),
            credentials_cooldown: None,
            max_sessions: 10,
            session_ttl: Duration::from_secs(3600),
        },
        ids,
    )
    .with_wording(Wording {
        upstream: "Kiro".into(),
        one_unavailable: "the Kiro account is unavailable".into(),
        many: "Kiro accounts".into(),
        advice: "Wait, or add an account with `conduit login`.".into(),
    })
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[test]
fn new_sessions_spread_and_stay() {
    let mut s = sched(2);
    let now = t0();
    assert_eq!(s.pick(now, Some("a"), &[]), Some(0));
    assert_eq!(s.pick(now, Some("b"), &[]), Some(1));
    for _ in 0..3 {
        assert_eq!(s.pick(now, Some("a"), &[]), Some(0));
        assert_eq!(s.pick(now, Some("b"), &[]), Some(1));
    }
    assert_eq!(
        s.pick(now, None, &[]),
        Some(0),
        "no session: first available"
    );
}

#[test]
fn a_session_fails_over_and_returns_home_after_the_cooldown() {
    let mut s = sched(3);
    let now = t0();
    assert_eq!(s.pick(now, Some("a"), &[]), Some(0));
    let until = s.failed(0, Reason::Throttled, now);
    assert_eq!(until, now + Duration::from_secs(60));
    assert_eq!(s.pick(now, Some("a"), &[0]), Some(1));
    assert_eq!(s.session("a").map(|x| x.current.as_str()), Some("acc_1"));
    assert_eq!(
        s.pick(now + Duration::from_secs(59), Some("a"), &[]),
        Some(1)
    );
    assert_eq!(s.pick(until, Some("a"), &[]), Some(0), "home again");
    assert_eq!(s.session("a").map(|x| x.current.as_str()), Some("acc_0"));
}

#[test]
fn cooldowns_double_up_to_the_cap_and_reset_on_success() {
    let mut s = sched(2);
    let now = t0();
    let lengths: Vec<i64> = (0..6)
        .map(|_| (s.failed(0, Reason::ServerError, now) - now).whole_seconds())
        .collect();
    assert_eq!(lengths, vec![60, 120, 240, 480, 600, 600]);
    s.succeeded(0);
    assert_eq!(
        (s.failed(0, Reason::ServerError, now) - now).whole_seconds(),
        60
    );
}

#[test]
fn quota_cools_until_the_known_reset_or_the_default() {
    let mut s = sched(2);
    let now = t0();
    assert_eq!(
        s.failed(0, Reason::Quota, now),
        now + Duration::from_secs(3600)
    );
    let reset = now + Duration::from_secs(86_400 * 3);
    s.set_next_reset(1, Some(reset));
    assert_eq!(s.failed(1, Reason::Quota, now), reset);
}

#[test]
fn all_cooling_gives_one_error_naming_the_soonest() {
    let mut s = sched(2);
    let now = t0();
    s.failed(0, Reason::Quota, now);
    s.failed(1, Reason::ServerError, now);
    assert_eq!(s.pick(now, Some("a"), &[]), None);
    let e = s.exhausted_error(now, None);
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert!(e.message.contains("all 2 Kiro accounts"), "{}", e.message);
    assert!(e.message.contains("in 60 s"), "{}", e.message);

    let mut s = sched(2);
    s.failed(0, Reason::ServerError, now);
    s.failed(1, Reason::ServerError, now);
    assert_eq!(s.exhausted_error(now, None).kind, ErrorKind::Overloaded);
}

#[test]
fn sessions_are_bounded() {
    let mut s = sched(2);
    let now = t0();
    for i in 0..25 {
        s.pick(now + Duration::from_secs(i), Some(&format!("s{i}")), &[]);
    }
    assert!(s.sessions.len() <= 10);
    assert!(s.session("s24").is_some(), "the newest is kept");
    assert!(s.session("s0").is_none(), "the oldest is gone");
}

#[test]
fn unchanged_successes_are_not_dirty() {
    let mut s = sched(2);
    let now = t0();
    s.pick(now, Some("a"), &[]);
    assert!(s.take_dirty(), "a new session is worth saving");
    s.pick(now, Some("a"), &[]);
    s.succeeded(0);
    assert!(
        !s.take_dirty(),
        "same account, same health: nothing to save"
    );
}

#[test]
fn risk_control_rests_long_and_suspension_disables_until_lifted() {
    let mut s = sched(2);
    let now = t0();
    assert_eq!(s.pick(now, Some("a"), &[]), Some(0));
    s.failed_with(0, Reason::RiskControl, now, Some("suspicious".into()), None);
    assert!(s.hard_blocked(0, now));
    assert_eq!(s.state(0, now).0, AccountState::CoolingDown);
    assert_eq!(s.pick(now, Some("a"), &[]), Some(1));
    let later = now + Duration::from_secs(600);
    assert!(!s.hard_blocked(0, later), "the risk cooldown is 600 s");
    assert_eq!(s.pick(later, Some("a"), &[]), Some(0), "back home after it");

    s.failed_with(1, Reason::Suspended, now, None, Some("fp1".into()));
    let much_later = now + Duration::from_secs(30 * 86_400);
    assert_eq!(s.state(1, much_later).0, AccountState::Suspended);
    assert!(s.hard_blocked(1, much_later), "no self-healing");
    assert_eq!(s.pick(much_later, Some("b"), &[0]), None);
    s.succeeded(1);
    assert_eq!(
        s.suspended_with(1),
        Some(Some("fp1")),
        "a success does not lift it"
    );
    s.lift_suspension(1);
    assert_eq!(s.state(1, much_later).0, AccountState::Active);
}

#[test]
fn credits_add_up_per_account() {
    let mut s = sched(2);
    s.add_credits(1, 0.25);
    s.add_credits(1, 0.5);
    s.add_credits(1, f64::NAN);
    assert_eq!(s.health(1).map(|h| h.credits_used), Some(0.75));
    assert_eq!(s.health(0).map(|h| h.credits_used), Some(0.0));
}
