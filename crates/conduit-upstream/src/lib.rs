//! What every upstream needs, written once: [`transport`] (the outbound HTTP client),
//! [`eventstream`] (AWS event-stream frames from a response body), [`sigv4`] (AWS request
//! signing over the `aws-sigv4` crate; `aws_credentials`, the AWS credential chain, behind the
//! `aws-credentials` feature), [`scheduler`] and [`clock`] (cooldowns and sticky
//! choices between accounts or upstreams), [`retry`] (backoff) and [`watchdog`] (resend when the
//! first chunk does not come in time). [`router`] puts several upstreams behind one gateway: routes,
//! failover and cooldowns. An upstream crate (Kiro, Bedrock, the Anthropic API)
//! keeps only its own wire: what its frames and error bodies mean.

#[cfg(feature = "aws-credentials")]
pub mod aws_credentials;
pub mod clock;
pub mod eventstream;
pub mod retry;
pub mod router;
pub mod scheduler;
pub mod sigv4;
pub mod transport;
pub mod trouble;
pub mod watchdog;
