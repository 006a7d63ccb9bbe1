//! The phases every chat-style request shares, whatever its dialect: send the canonical request
//! through the model router (which resolves the model per upstream, counts the estimate and
//! mints the message id once, and fails over), then relay the stream (SSE) or collect it (JSON),
//! logging once at the end. A dialect plugs in through [`Turn`]; handlers only decode and call
//! [`run`].

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, Event, EventStream, Request};
use futures::StreamExt;

use crate::logging::RequestRecord;
use crate::relay::{self, SseDialect};
use crate::state::{RelaySettings, Upstreams};

/// How one dialect renders the outcome of a turn.
pub trait Turn: Send + 'static {
    type Sse: SseDialect;
    fn error(&self, error: &Error) -> Response;
    fn body(&self, response: &conduit_core::Response) -> Vec<u8>;
    fn into_sse(self) -> Self::Sse;
}

/// send (the router: route, prepare, failover) → relay or collect → log.
pub async fn run<T: Turn>(
    upstreams: &Upstreams,
    relay: RelaySettings,
    mut record: RequestRecord,
    request: Request,
    turn: T,
) -> Response {
    record.set_model(&request.model);
    let streaming = request.stream;
    match upstreams.0.send(request).await {
        Ok(routed) => {
            record.set_route(&routed.upstream, &routed.model.upstream);
            deliver(routed.value, streaming, relay, record, turn).await
        }
        Err(e) => failed(record, &e, turn.error(&e)),
    }
}

/// Relay (SSE) or collect (JSON) a canonical stream the router handed back, then log.
pub async fn deliver<T: Turn>(
    stream: EventStream,
    streaming: bool,
    relay: RelaySettings,
    mut record: RequestRecord,
    turn: T,
) -> Response {
    let stream = match until_content(stream).await {
        Ok(s) => s,
        Err(e) => return failed(record, &e, turn.error(&e)),
    };
    if streaming {
        let body = relay::sse_body(stream, turn.into_sse(), relay.ping_interval, record);
        return sse_response(body);
    }
    match conduit_core::collect(stream).await {
        Ok(response) => {
            record.set_usage(response.usage);
            record.set_status(200);
            record.finish();
            json_response(StatusCode::OK, turn.body(&response))
        }
        Err(e) => failed(record, &e, turn.error(&e)),
    }
}

/// Hold the stream until its first content event, so that an error the upstream reports before
/// any content (a throttling exception as the first frame, say) reaches the client as an HTTP
/// error with its real status (429, 529 ...) — which clients retry — rather than as a 200 whose
/// stream then fails.
async fn until_content(mut stream: EventStream) -> Result<EventStream, Error> {
    let mut held = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(event @ (Event::MessageStart { .. } | Event::Ping))) => held.push(Ok(event)),
            Some(Ok(event)) => {
                held.push(Ok(event));
                break;
            }
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    Ok(Box::pin(futures::stream::iter(held).chain(stream)))
}

/// Log a failed request once and return its rendered error.
pub fn failed(mut record: RequestRecord, error: &Error, response: Response) -> Response {
    record.fail(response.status().as_u16(), error);
    record.finish();
    response
}

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn sse_response(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

/// Render `(status, body)` from a dialect's error function.
/// A gateway-imposed wait (`Error::retry_after`) goes out as `retry-after`.
pub fn error_with(error: &Error, render: fn(&Error) -> (u16, Vec<u8>)) -> Response {
    let (status, body) = render(error);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, body);
    if let Some(secs) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}
