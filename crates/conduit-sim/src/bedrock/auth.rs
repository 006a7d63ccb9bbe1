//! Who may call: SigV4 with the configured credentials and service names, or a Bedrock API key
//! as `Authorization: Bearer`. Answers carry the real Bedrock error names and messages.

use axum::http::HeaderMap;

use super::error;
use super::sigv4::{self, SigV4Error};
use crate::config::SimConfig;
use crate::model::HttpError;

/// The parts of a request the checks need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Req<'a> {
    pub method: &'a str,
    /// The path as received, region prefix included.
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The region the request is addressed to (prefix, else `root_region`).
    pub region: Option<&'a str>,
}

const BAD_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization").and_then(|v| v.to_str().ok())
}

/// Verify SigV4 for one of `services`; the access key id on success.
pub(crate) fn sigv4(
    config: &SimConfig,
    req: &Req<'_>,
    header: &str,
    services: &[String],
) -> Result<String, SigV4Error> {
    let secret_of = |akid: &str| config.bedrock_credentials.get(akid).cloned();
    sigv4::verify(
        header,
        &sigv4::Check {
            method: req.method,
            raw_path: req.raw_path,
            query: req.query,
            headers: req.headers,
            body: req.body,
            secret_of: &secret_of,
            services,
            region: req.region,
            max_skew_secs: config.bedrock_max_clock_skew_secs,
        },
    )
}

/// The Bedrock answer to a SigV4 failure.
pub(crate) fn sigv4_error(e: SigV4Error) -> HttpError {
    match e {
        SigV4Error::Incomplete(m) => error(403, "IncompleteSignatureException", m),
        SigV4Error::UnknownAccessKey => error(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        SigV4Error::WrongService(s) => error(
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{s}'. "),
        ),
        SigV4Error::WrongRegion => error(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to a valid region. ",
        ),
        SigV4Error::Expired => error(
            403,
            "InvalidSignatureException",
            "Signature expired: the X-Amz-Date is more than 5 minutes away from the current time.",
        ),
        SigV4Error::BadSignature => error(403, "InvalidSignatureException", BAD_SIGNATURE),
    }
}

/// Authenticate a Bedrock runtime call; the caller's key (access key id or API key).
pub(crate) fn bedrock(config: &SimConfig, req: &Req<'_>) -> Result<String, HttpError> {
    let Some(header) = authorization(req.headers) else {
        return Err(error(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(key) = header.strip_prefix("Bearer ").map(str::trim) {
        if config.bedrock_api_keys.iter().any(|k| k == key) {
            return Ok(key.to_owned());
        }
        let message = if key.starts_with("ABSK") {
            "Authentication failed: Please make sure your API Key is valid."
        } else {
            "Invalid API Key format: Must start with pre-defined prefix"
        };
        return Err(error(403, "AccessDeniedException", message));
    }
    sigv4(config, req, header, &config.bedrock_signing_services).map_err(sigv4_error)
}
