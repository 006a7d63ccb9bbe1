//! HTTP to `generateAssistantResponse`: headers as the Kiro IDE sends them (spec §3.2), error
//! classification by body and status ([`errors`], spec §6.1, §9.6), backoff retries, one forced
//! token refresh on an invalid bearer, and the first-token watchdog (resend when the upstream
//! stays silent).

pub mod errors;

use std::sync::Arc;

use bytes::Bytes;
use conduit_core::{Error, ErrorKind, FailoverCause};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};

use conduit_upstream::retry::Backoff;
use conduit_upstream::transport::HttpSettings;
use conduit_upstream::watchdog::{self, Outcome, Target, Watchdog};

use crate::auth::{Auth, Token};
use crate::config::{Binding, KiroConfig};

/// The Kiro IDE version placed in User-Agents.
pub const KIRO_VERSION: &str = "0.11.107";
const SDK_VERSION: &str = "1.0.34";
/// `x-amz-target` of the AWS JSON 1.0 binding.
pub const GENERATE_TARGET: &str = "AmazonCodeWhispererStreamingService.GenerateAssistantResponse";

/// The raw event-stream body of a successful call. Dropping it closes the upstream response.
pub use conduit_upstream::eventstream::BodyStream;

/// Facts about the request needed to word errors (context overflow).
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    /// Our estimate of the prompt's input tokens.
    pub input_tokens: u32,
    /// The model's context window.
    pub context_window: u32,
}

/// What to do about a non-2xx answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Give up with this error.
    Fail(Error),
    /// Wait and resend; if attempts run out, this is the error.
    Backoff(Error),
    /// The access token was rejected: refresh once and resend.
    Refresh(Error),
}

/// An error from outside the answer's classification (a token that cannot be loaded or
/// refreshed, a body that cannot be built): dead credentials are a failover cause, the rest not.
fn unclassified(error: Error) -> Error {
    if error.kind == ErrorKind::Credentials && error.cause.is_none() {
        error.with_cause(FailoverCause::Credentials)
    } else {
        error
    }
}

/// Builds the shared outbound HTTP client with Kiro's timeouts
/// ([`conduit_upstream::transport::build_http`]).
pub fn build_http(config: &KiroConfig) -> Result<reqwest::Client, Error> {
    conduit_upstream::transport::build_http(&HttpSettings {
        connect_timeout: config.connect_timeout,
        read_timeout: config.stream_read_timeout,
    })
}

/// Sends chat requests to Kiro for one account.
pub struct KiroClient {
    http: reqwest::Client,
    config: Arc<KiroConfig>,
    user_agent: String,
    amz_user_agent: String,
}

impl KiroClient {
    pub fn new(config: Arc<KiroConfig>, http: reqwest::Client) -> Self {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            other => other,
        };
        let kiro = format!("KiroIDE-{KIRO_VERSION}-{}", config.machine_id);
        Self {
            user_agent: format!(
                "aws-sdk-js/{SDK_VERSION} ua/2.1 os/{os} lang/js md/nodejs#22.22.0 api/codewhispererstreaming#{SDK_VERSION} m/E {kiro}"
            ),
            amz_user_agent: format!("aws-sdk-js/{SDK_VERSION} {kiro}"),
            http,
            config,
        }
    }

    /// POSTs `body` until the upstream starts streaming, then hands back the body stream.
    /// `body_for` builds the JSON body for the token in use (its profile ARN may change after a
    /// refresh). A failed call's error carries its [`FailoverCause`] when another account or
    /// upstream may do better.
    pub async fn generate(
        &self,
        auth: &Auth,
        body_for: &(dyn Fn(&Token) -> Result<Bytes, Error> + Send + Sync),
        ctx: CallContext,
    ) -> Result<BodyStream, Error> {
        let max_attempts = self.config.retry.max_attempts.max(1);
        let mut backoff = Backoff::new(&self.config.retry);
        let mut watchdog = Watchdog::new(
            self.config.first_token_timeout,
            self.config.first_token_max_retries,
        );
        // True while the token in hand comes from a forced refresh and Kiro has not accepted it
        // yet; a second rejection then means refreshing does not help.
        let mut refreshed = false;
        let mut sent = 0u32;
        let mut token = auth
            .with_profile(auth.access_token().await.map_err(unclassified)?)
            .await;
        loop {
            sent += 1;
            let body = body_for(&token).map_err(unclassified)?;
            let deadline = watchdog.deadline();
            let error = match self
                .attempt(&token, body.clone(), sent, max_attempts, deadline)
                .await
            {
                Outcome::Stream(s) => return Ok(s),
                Outcome::Silent => {
                    // Kiro accepted the token (200, no body yet): a later 403 is a new expiry.
                    refreshed = false;
                    watchdog.silent("Kiro")?;
                    continue;
                }
                // No answer: another upstream may do better (the account pool does not rest
                // an account for it).
                Outcome::Network(e) => e.with_cause(FailoverCause::Timeout),
                Outcome::Status(status, _headers, text) => {
                    let answer = errors::parse(status, &text);
                    let url = self.config.api_url_for(token.profile_arn.as_deref());
                    let sent_with = errors::Sent {
                        profile_arn: token.profile_arn.as_deref(),
                        kind: token.kind,
                        url: &url,
                        url_follows_region: self.config.api_url_follows_region(),
                        body: &body,
                    };
                    match errors::verdict(&answer, ctx, Some(&sent_with)) {
                        Verdict::Fail(e) => {
                            tracing::warn!(status, reason = %answer.reason, class = ?answer.class, "Kiro refused the call");
                            return Err(e);
                        }
                        Verdict::Refresh(e) => {
                            if refreshed {
                                return Err(Error::new(
                                    ErrorKind::Credentials,
                                    format!(
                                        "{} even after a token refresh: run `conduit login`",
                                        e.message
                                    ),
                                )
                                .with_cause(FailoverCause::Credentials));
                            }
                            refreshed = true;
                            tracing::info!("Kiro rejected the access token; forcing a refresh");
                            token = auth.force_refresh(&token).await.map_err(unclassified)?;
                            token = auth.with_profile(token).await;
                            continue;
                        }
                        Verdict::Backoff(e) => {
                            // Throttling and 5xx come after the token check: it was accepted.
                            refreshed = false;
                            e
                        }
                    }
                }
            };
            if !backoff.wait("Kiro", &error).await {
                return Err(error);
            }
            token = auth
                .with_profile(auth.access_token().await.map_err(unclassified)?)
                .await;
        }
    }

    async fn attempt(
        &self,
        token: &Token,
        body: Bytes,
        sent: u32,
        max: u32,
        deadline: tokio::time::Instant,
    ) -> Outcome {
        let base = self.config.api_url_for(token.profile_arn.as_deref());
        let url = match self.config.binding {
            Binding::RestJson => format!("{base}/generateAssistantResponse"),
            Binding::AwsJson => format!("{base}/"),
        };
        let headers = match self.headers(token, sent, max) {
            Ok(h) => h,
            Err(e) => return Outcome::Network(e),
        };
        let to = Target {
            service: "Kiro",
            url: &base,
            hint: "check the network or CONDUIT_KIRO_API_URL",
        };
        watchdog::send(
            self.http.post(&url).headers(headers).body(body),
            deadline,
            to,
        )
        .await
    }

    fn headers(&self, token: &Token, sent: u32, max: u32) -> Result<HeaderMap, Error> {
        let bad = |_| {
            Error::new(ErrorKind::Credentials, "the Kiro access token contains characters HTTP does not allow: run `conduit login`")
        };
        let mut h = HeaderMap::new();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.access_token)).map_err(bad)?;
        auth.set_sensitive(true);
        h.insert(AUTHORIZATION, auth);
        let (content_type, target) = match self.config.binding {
            Binding::RestJson => ("application/json", None),
            Binding::AwsJson => ("application/x-amz-json-1.0", Some(GENERATE_TARGET)),
        };
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(t) = target {
            h.insert("x-amz-target", HeaderValue::from_static(t));
        }
        let value = |s: &str| {
            HeaderValue::from_str(s).map_err(|e| Error::internal(format!("bad header value: {e}")))
        };
        h.insert(USER_AGENT, value(&self.user_agent)?);
        h.insert("x-amz-user-agent", value(&self.amz_user_agent)?);
        h.insert(
            "x-amzn-codewhisperer-optout",
            HeaderValue::from_static("true"),
        );
        h.insert("x-amzn-kiro-agent-mode", HeaderValue::from_static("vibe"));
        if token.kind.external_idp() {
            h.insert(
                crate::auth::kind::TOKEN_TYPE_HEADER,
                HeaderValue::from_static(crate::auth::kind::EXTERNAL_IDP_TOKEN_TYPE),
            );
        }
        h.insert(
            "amz-sdk-invocation-id",
            value(&uuid::Uuid::new_v4().to_string())?,
        );
        h.insert(
            "amz-sdk-request",
            value(&format!("attempt={sent}; max={max}"))?,
        );
        Ok(h)
    }
}

/// Classifies a non-2xx answer by its body's `reason`, then its markers, then its status
/// (spec §6.1, §9.6); see [`errors`].
pub fn classify(status: u16, body: &str, ctx: CallContext) -> Verdict {
    errors::verdict(&errors::parse(status, body), ctx, None)
}

#[cfg(test)]
mod tests;
