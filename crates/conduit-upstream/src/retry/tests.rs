//! Backoff delays double up to the cap; the loop stops on success, on errors that will not
//! pass and when attempts are used up (paused tokio time, no real sleeps).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::sync::atomic::{AtomicU32, Ordering};

use conduit_core::ErrorKind;

use super::*;

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(100),
        cap: Duration::from_millis(300),
        jitter: 0.0,
    }
}

#[test]
fn delays_double_up_to_the_cap() {
    let p = policy(10);
    let delays: Vec<u128> = (0..4).map(|r| p.delay(r).as_millis()).collect();
    assert_eq!(delays, [100, 200, 300, 300]);
    let mut b = Backoff::new(&p);
    let n = std::iter::from_fn(|| b.next_delay()).count();
    assert_eq!(n, 9, "ten attempts: nine retries");
}

#[tokio::test(start_paused = true)]
async fn the_loop() {
    let throttled = || Error::new(ErrorKind::RateLimited, "slow down");
    let bad = || Error::invalid_request("bad");
    // (attempts allowed, failures before success, error, want calls, want ok)
    let cases = [
        (3, 0, throttled(), 1, true),
        (3, 2, throttled(), 3, true),
        (3, 3, throttled(), 3, false),
        (3, 5, bad(), 1, false),
        (1, 1, throttled(), 1, false),
    ];
    for (max, failures, error, want_calls, want_ok) in cases {
        let calls = AtomicU32::new(0);
        let got = retry(
            &policy(max),
            "test",
            |e| e.retryable,
            |attempt| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                assert_eq!(attempt, n + 1);
                let error = error.clone();
                async move {
                    if n < failures {
                        Err(error)
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            want_calls,
            "{max} {failures} {error}"
        );
        assert_eq!(got.is_ok(), want_ok, "{max} {failures} {error}");
    }
}
