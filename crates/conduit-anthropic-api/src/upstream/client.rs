//! HTTP to the Messages API: `POST {base_url}{path}` with the key or a SigV4 signature and the
//! pass-through headers; non-2xx answers classified with their body kept raw; SSE bodies read
//! into [`RawEvent`]s up to the first one that is not a ping.

use std::time::SystemTime;

use bytes::Bytes;
use conduit_anthropic::upstream::{error_from_body, error_from_event};
use conduit_core::{Error, ErrorKind, FailoverCause, RawError, RawEvent, RawEventStream};
use conduit_upstream::aws_credentials::Auth;
use futures::{Stream, StreamExt};
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use super::{AnthropicApiUpstream, ApiAuth, MAX_ERROR_BODY, SIGNING_SERVICE};
use crate::config::ANTHROPIC_VERSION;
use crate::sse::SseDecoder;

impl AnthropicApiUpstream {
    pub(super) fn name(&self) -> String {
        format!("Anthropic API ({})", self.config.name)
    }

    fn credential(&self) -> &'static str {
        match self.auth {
            ApiAuth::Aws { .. } => "AWS credentials",
            _ => "API key",
        }
    }

    /// POSTs `body` to `{base_url}{path}` with the pass-through `headers`; a non-2xx answer is
    /// returned as its classified error, with the upstream's body kept raw.
    pub(super) async fn post(
        &self,
        path: &str,
        body: Bytes,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<reqwest::Response, Error> {
        let url = format!("{}{path}", self.base_url);
        let mut headers = headers;
        headers.push((
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        if !headers.iter().any(|(n, _)| n == "anthropic-version") {
            headers.push((
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            ));
        }
        if let Some(ws) = &self.config.workspace_id {
            headers.retain(|(n, _)| n != "anthropic-workspace-id");
            headers.push((
                HeaderName::from_static("anthropic-workspace-id"),
                header_value(ws)?,
            ));
        }
        match &self.auth {
            ApiAuth::Key(key) => {
                let mut v = header_value(key)?;
                v.set_sensitive(true);
                headers.push((HeaderName::from_static("x-api-key"), v));
            }
            ApiAuth::Aws {
                credentials,
                region,
            } => {
                let Auth::SigV4(creds) = credentials.get(&self.name()).await? else {
                    return Err(Error::internal(
                        "Claude Platform on AWS needs AWS credentials",
                    ));
                };
                let signed = conduit_upstream::sigv4::sign(
                    "POST",
                    &url,
                    &headers,
                    &body,
                    &creds,
                    region,
                    SIGNING_SERVICE,
                    SystemTime::now(),
                )?;
                headers.extend(signed);
            }
            ApiAuth::Missing(var) => {
                let e = Error::new(
                    ErrorKind::Credentials,
                    format!(
                        "{} has no API key: set {var} (or the upstream's `api_key_env`)",
                        self.name()
                    ),
                )
                .with_cause(FailoverCause::Credentials);
                self.note(Some(&e));
                return Err(e);
            }
        }
        let mut request = self.http.post(&url).body(body);
        for (n, v) in headers {
            request = request.header(n, v);
        }
        let response = request.send().await.map_err(|e| self.network_error(&e))?;
        if response.status().is_success() {
            self.note(None);
            return Ok(response);
        }
        let e = self.failure(response).await;
        self.note(Some(&e));
        Err(e)
    }

    async fn failure(&self, mut response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY {
                break;
            }
        }
        let mut e = error_from_body(status, &body);
        if e.kind == ErrorKind::Credentials {
            e.message = format!(
                "{} refused the {}: {}",
                self.name(),
                self.credential(),
                e.message
            );
        }
        e
    }

    pub(super) fn network_error(&self, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::new(
                ErrorKind::Timeout,
                format!("{} did not answer in time: {e}", self.name()),
            )
            .with_cause(FailoverCause::Timeout)
        } else {
            Error::new(
                ErrorKind::Overloaded,
                format!(
                    "{} could not be reached at {}: {e}",
                    self.name(),
                    self.base_url
                ),
            )
            .with_cause(FailoverCause::ServerError)
        }
    }

    /// The events of a streaming answer, once the first one that is not a ping arrived.
    pub(super) async fn stream(
        &self,
        body: Bytes,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<RawEventStream, Error> {
        let response = self.post("/v1/messages", body, headers).await?;
        let mut events = Box::pin(raw_events(response, self.name()));
        let mut pings = Vec::new();
        loop {
            match events.next().await {
                Some(Ok(ev)) if ev.name == "ping" => pings.push(Ok(ev)),
                Some(Ok(ev)) => {
                    pings.push(Ok(ev));
                    return Ok(Box::pin(futures::stream::iter(pings).chain(events)));
                }
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(Error::new(
                        ErrorKind::UpstreamProtocol,
                        format!("{} ended the stream before its first event", self.name()),
                    )
                    .with_cause(FailoverCause::ServerError))
                }
            }
        }
    }
}

pub(super) fn header_value(v: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(v).map_err(|_| Error::invalid_request("a header value is not valid text"))
}

pub(super) fn json_bytes(v: &impl serde::Serialize) -> Result<Bytes, Error> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("cannot serialise the Messages body: {e}")))
}

/// The upstream's SSE events as they came; an `error` event ends the stream as an `Err` that
/// keeps its envelope raw.
fn raw_events(
    response: reqwest::Response,
    name: String,
) -> impl Stream<Item = Result<RawEvent, Error>> + Send {
    async_stream::stream! {
        let mut body = response.bytes_stream();
        let mut sse = SseDecoder::new();
        loop {
            let (events, done) = match body.next().await {
                Some(Ok(chunk)) => (sse.push(&chunk), false),
                Some(Err(e)) => {
                    yield Err(Error::new(ErrorKind::UpstreamProtocol, format!("{name} cut the stream: {e}")));
                    return;
                }
                None => (sse.finish().into_iter().collect::<Vec<_>>(), true),
            };
            for ev in events {
                if ev.name == "error" {
                    yield Err(stream_error(&ev.data));
                    return;
                }
                yield Ok(RawEvent { name: ev.name, data: ev.data });
            }
            if done { return; }
        }
    }
}

/// An in-stream `event: error`: classified like an HTTP error of the status Anthropic gives
/// that type, its JSON kept raw so an Anthropic client gets it unmodified.
fn stream_error(data: &Bytes) -> Error {
    let envelope: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    let error = envelope.get("error").cloned().unwrap_or(Value::Null);
    let status = match error.get("type").and_then(Value::as_str) {
        Some("overloaded_error") => 529,
        Some("rate_limit_error") => 429,
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        _ => 500,
    };
    error_from_event(&error).with_raw(RawError {
        dialect: "anthropic",
        status,
        body: data.clone(),
    })
}
