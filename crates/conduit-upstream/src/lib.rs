//! What every upstream needs, written once: [`transport`] (the outbound HTTP client),
//! [`eventstream`] (AWS event-stream frames from a response body) and [`sigv4`] (AWS request
//! signing over the `aws-sigv4` crate). An upstream crate (Kiro, Bedrock, the Anthropic API)
//! keeps only its own wire: what its frames and error bodies mean.

pub mod eventstream;
pub mod sigv4;
pub mod transport;
