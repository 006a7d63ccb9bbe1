//! Exponential backoff with jitter for errors that may pass (throttling, 5xx, network), shared
//! by every upstream: [`RetryPolicy`] says how long to wait, [`Backoff`] counts the retries of
//! one call, and [`retry`] is the whole loop for callers whose tries are all alike.

use std::future::Future;
use std::time::Duration;

use conduit_core::Error;

/// Exponential backoff for throttling, 5xx and network errors.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Extra random delay, as a fraction of the computed delay (0.25 = up to +25 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(2),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 = the first retry), without jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before retry number `retry`, with up to `jitter` added.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry);
        let extra = base.mul_f64(self.jitter.clamp(0.0, 1.0) * rand::random::<f64>());
        base + extra
    }
}

/// The backoff retries of one call.
#[derive(Debug)]
pub struct Backoff<'a> {
    policy: &'a RetryPolicy,
    retries: u32,
}

impl<'a> Backoff<'a> {
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Self { policy, retries: 0 }
    }

    /// Retries taken so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// After a failure that may pass: the delay before the next try, or `None` when the
    /// policy's attempts are used up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.retries + 1 >= self.policy.max_attempts.max(1) {
            return None;
        }
        let delay = self.policy.delay(self.retries);
        self.retries += 1;
        Some(delay)
    }

    /// [`Backoff::next_delay`], slept: `false` when attempts are used up.
    pub async fn wait(&mut self, what: &str, error: &Error) -> bool {
        let Some(delay) = self.next_delay() else {
            return false;
        };
        tracing::warn!(error = %error, ?delay, "{what} call failed; retrying");
        tokio::time::sleep(delay).await;
        true
    }
}

/// Calls `call` (with the attempt number, from 1) until it succeeds, fails with an error
/// `may_pass` says no to, or the policy's attempts are used up; waits with backoff in between.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    may_pass: impl Fn(&Error) -> bool,
    mut call: F,
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut backoff = Backoff::new(policy);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call(attempt).await {
            Ok(value) => return Ok(value),
            Err(e) if !may_pass(&e) => return Err(e),
            Err(e) => {
                if !backoff.wait(what, &e).await {
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
