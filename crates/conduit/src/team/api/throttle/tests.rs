//! The throttle's arithmetic on a moved clock.

use std::sync::Arc;
use std::time::Duration;

use conduit_upstream::clock::ManualClock;

use super::{LoginThrottle, MAX_WAIT_SECS};

fn fail(t: &Arc<LoginThrottle>, ip: Option<&str>, user: &str) {
    t.begin(ip, user)
        .unwrap_or_else(|s| panic!("throttled {s}"))
        .failed();
}

#[test]
fn waits_grow_after_five_failures_and_a_success_clears_the_user() {
    let clock = Arc::new(ManualClock::default());
    let t = Arc::new(LoginThrottle::new(clock.clone()));
    for _ in 0..5 {
        fail(&t, Some("1.2.3.4"), "bob");
    }
    assert_eq!(t.begin(Some("1.2.3.4"), "bob").err(), Some(1));
    // Another address, same user: still throttled; another user from the same address too.
    assert_eq!(t.wait(Some("5.6.7.8"), "bob"), Some(1));
    assert_eq!(t.wait(Some("1.2.3.4"), "alice"), Some(1));
    assert_eq!(t.wait(Some("5.6.7.8"), "alice"), None);
    clock.advance(Duration::from_secs(1));
    fail(&t, Some("1.2.3.4"), "bob");
    assert_eq!(t.wait(None, "bob"), Some(2));
    clock.advance(Duration::from_secs(2));
    for _ in 0..20 {
        fail(&t, None, "bob");
        clock.advance(Duration::from_secs(MAX_WAIT_SECS));
    }
    clock.advance(Duration::from_secs(1));
    fail(&t, None, "bob");
    assert_eq!(t.wait(None, "bob"), Some(MAX_WAIT_SECS));
    clock.advance(Duration::from_secs(MAX_WAIT_SECS));
    t.begin(None, "bob").unwrap().succeeded();
    assert_eq!(t.wait(None, "bob"), None);
    // The address keeps its count: its seventh failure means a 4 s wait, for anyone there.
    fail(&t, Some("1.2.3.4"), "carol");
    assert_eq!(t.wait(None, "carol"), None);
    assert_eq!(t.wait(Some("1.2.3.4"), "dave"), Some(4));
}

#[test]
fn parallel_attempts_count_before_they_fail() {
    let t = Arc::new(LoginThrottle::new(Arc::new(ManualClock::default())));
    let burst: Vec<_> = (0..5)
        .map(|_| t.begin(Some("9.9.9.9"), "eve").unwrap())
        .collect();
    // The sixth parallel guess waits for the first verdicts.
    assert_eq!(t.begin(Some("9.9.9.9"), "eve").err(), Some(1));
    drop(burst);
    // Undecided attempts (a store error, a cancelled request) leave nothing behind.
    assert_eq!(t.wait(Some("9.9.9.9"), "eve"), None);
    assert!(t.lock().is_empty());
}
