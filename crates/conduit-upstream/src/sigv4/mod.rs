//! AWS Signature Version 4 for outbound requests, through AWS's own `aws-sigv4` crate (never
//! hand-written): the caller gives the request's parts and gets back the headers to add
//! (`authorization`, `x-amz-date`, `x-amz-security-token`).

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as sign_request, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use conduit_core::{Error, ErrorKind};
use http::{HeaderName, HeaderValue};

/// Long-term or temporary AWS credentials. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Present for temporary credentials (STS, SSO, instance roles).
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn signing_error(e: impl fmt::Display) -> Error {
    Error::internal(format!("could not sign the AWS request: {e}"))
}

/// Signs a request and returns the headers to add to it. `headers` are the ones that will be
/// sent (they are signed too; `host` comes from `url`). `service` is the signing name
/// (`bedrock`, `aws-external-anthropic`), `time` the signing time (now, or fixed in tests).
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a request and of a signing scope, as the shared API names them"
)]
pub fn sign(
    method: &str,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
    let identity: Identity = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "conduit",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(signing_error)?
        .into();
    let mut strings = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = value.to_str().map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                format!("the header {name} is not text and cannot be signed"),
            )
        })?;
        strings.push((name.as_str(), value));
    }
    let signable =
        SignableRequest::new(method, url, strings.into_iter(), SignableBody::Bytes(body))
            .map_err(signing_error)?;
    let (instructions, _signature) = sign_request(signable, &params)
        .map_err(signing_error)?
        .into_parts();
    let (signed_headers, _params) = instructions.into_parts();
    signed_headers
        .into_iter()
        .map(|h| {
            let name = HeaderName::from_bytes(h.name().as_bytes()).map_err(signing_error)?;
            let mut value = HeaderValue::from_str(h.value()).map_err(signing_error)?;
            value.set_sensitive(h.sensitive());
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests;
