//! HTTP to bedrock-runtime: `POST /model/{id}/{action}` with the model id percent-encoded in the
//! path, authorised by a Bedrock API key (`Authorization: Bearer`) or a SigV4 signature
//! ([`conduit_upstream::sigv4`], AWS's own signer), and non-2xx answers classified
//! ([`crate::errors`]).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use conduit_core::{Error, ErrorKind, FailoverCause};
use http::{HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::errors::{self, ErrorContext};
use crate::{Auth, Credentials};

/// Error bodies longer than this are not read further.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Everything but RFC 3986 unreserved characters: an ARN's `:` and `/` become `%3A`, `%2F`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `invoke-with-response-stream`: an event stream of Anthropic events.
    Stream,
    /// `invoke`: one Messages JSON body.
    Invoke,
    /// `count-tokens`.
    CountTokens,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Stream => "invoke-with-response-stream",
            Action::Invoke => "invoke",
            Action::CountTokens => "count-tokens",
        }
    }
}

/// Sends requests to one Bedrock runtime endpoint.
pub struct BedrockClient {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) credentials: Arc<Credentials>,
}

impl BedrockClient {
    pub fn url(&self, model_id: &str, action: Action) -> String {
        format!(
            "{}/model/{}/{}",
            self.endpoint,
            utf8_percent_encode(model_id, PATH_SEGMENT),
            action.path()
        )
    }

    pub fn error_context(&self) -> ErrorContext<'_> {
        ErrorContext {
            upstream: &self.name,
            credential: self.credentials.label(),
        }
    }

    /// POSTs `body`; a non-2xx answer is returned as its classified error.
    pub async fn post(
        &self,
        model_id: &str,
        action: Action,
        body: Bytes,
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(model_id, action);
        let accept = match action {
            Action::Stream => "application/vnd.amazon.eventstream",
            _ => "application/json",
        };
        let mut headers: Vec<(HeaderName, HeaderValue)> = vec![
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (http::header::ACCEPT, HeaderValue::from_static(accept)),
        ];
        match self
            .credentials
            .get(&format!("Bedrock ({})", self.name))
            .await?
        {
            Auth::Bearer(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    Error::new(
                        ErrorKind::Credentials,
                        format!(
                            "Bedrock ({}): the Bedrock API key is not a valid header value",
                            self.name
                        ),
                    )
                })?;
                value.set_sensitive(true);
                headers.push((http::header::AUTHORIZATION, value));
            }
            Auth::SigV4(creds) => {
                let signed = conduit_upstream::sigv4::sign(
                    "POST",
                    &url,
                    &headers,
                    &body,
                    &creds,
                    &self.region,
                    &self.service,
                    SystemTime::now(),
                )?;
                headers.extend(signed);
            }
        }
        let mut request = self.http.post(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| self.network_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failure(response).await)
    }

    async fn failure(&self, mut response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        let header_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY {
                break;
            }
        }
        let exception = header_type
            .or_else(|| errors::body_type(&body))
            .unwrap_or_default();
        let message = errors::body_message(&body);
        errors::classify(status, &exception, &message, &self.error_context())
    }

    pub fn network_error(&self, e: &reqwest::Error) -> Error {
        let name = &self.name;
        if e.is_timeout() {
            Error::new(
                ErrorKind::Timeout,
                format!("Bedrock ({name}) did not answer in time: {e}"),
            )
            .with_cause(FailoverCause::Timeout)
        } else {
            Error::new(
                ErrorKind::Overloaded,
                format!(
                    "Bedrock ({name}) could not be reached at {}: {e}",
                    self.endpoint
                ),
            )
            .with_cause(FailoverCause::ServerError)
        }
    }
}
