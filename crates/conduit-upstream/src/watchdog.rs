//! The first-token watchdog: an upstream that accepted a request but stays silent past a
//! deadline is resent (a few times) rather than waited on. [`send`] makes one try and sorts its
//! outcome; [`Watchdog`] counts the silences of one call and words the final timeout.

use std::time::Duration;

use conduit_core::{Error, ErrorKind, FailoverCause};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::eventstream::BodyStream;
use crate::transport::{network_error, read_error_body};

/// Who is called, for messages: `service` (`Kiro`), the URL, and what to check when the
/// connection fails.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub service: &'a str,
    pub url: &'a str,
    /// Advice for a failed connection: "check the network or CONDUIT_KIRO_API_URL".
    pub hint: &'a str,
}

/// How one try ended.
pub enum Outcome {
    /// A 2xx answer whose first chunk came in time (the chunk is put back in front).
    Stream(BodyStream),
    /// Nothing (no status, or no first chunk) before the deadline.
    Silent,
    /// The connection failed.
    Network(Error),
    /// A non-2xx answer: status, headers and (the first 64 KiB of) the body.
    Status(u16, HeaderMap, String),
}

/// Sends `request` and waits for its first body chunk until `deadline`.
pub async fn send(request: reqwest::RequestBuilder, deadline: Instant, to: Target<'_>) -> Outcome {
    let response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Outcome::Silent,
        Ok(Err(e)) => return Outcome::Network(network_error(&e, to.url, to.hint)),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        return Outcome::Status(status.as_u16(), headers, read_error_body(response).await);
    }
    first_chunk(response, deadline, to).await
}

async fn first_chunk(response: reqwest::Response, deadline: Instant, to: Target<'_>) -> Outcome {
    let mut body = response.bytes_stream();
    match tokio::time::timeout_at(deadline, body.next()).await {
        Err(_) => Outcome::Silent,
        Ok(Some(Err(e))) => Outcome::Network(network_error(
            &e,
            &format!("the {} API", to.service),
            to.hint,
        )),
        Ok(first) => {
            let first = first.and_then(Result::ok);
            let service = to.service.to_string();
            let rest = body.map_err(move |e| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!("reading the {service} response failed: {e}"),
                )
            });
            Outcome::Stream(Box::pin(futures::stream::iter(first.map(Ok)).chain(rest)))
        }
    }
}

/// The silences of one call: how long to wait for a first chunk, how often to resend.
#[derive(Debug, Clone)]
pub struct Watchdog {
    timeout: Duration,
    max_resends: u32,
    silences: u32,
}

impl Watchdog {
    pub fn new(timeout: Duration, max_resends: u32) -> Self {
        Self {
            timeout,
            max_resends,
            silences: 0,
        }
    }

    /// The deadline for a try starting now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// Silences so far.
    pub fn silences(&self) -> u32 {
        self.silences
    }

    /// A try stayed silent: `Ok` to resend, or the timeout error (failover cause
    /// [`FailoverCause::Timeout`]) once the resends are used up.
    pub fn silent(&mut self, service: &str) -> Result<(), Error> {
        self.silences += 1;
        if self.silences > self.max_resends {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{service} did not start answering within {:.1} s ({} tries); try again",
                    self.timeout.as_secs_f64(),
                    self.silences
                ),
            )
            .with_cause(FailoverCause::Timeout));
        }
        tracing::warn!(
            try_no = self.silences,
            "no first token from {service} in time; resending"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
