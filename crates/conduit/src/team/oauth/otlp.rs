//! `POST /v1/metrics`, `/v1/logs`, `/v1/traces`: OTLP/HTTP sinks behind the `/v1` guard. A
//! signed-in Claude Code exports its telemetry here; the gateway reads and discards it (up to
//! a cap, then stops reading) and answers 200 `{}` so the exporter logs no errors.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::json;

/// Read at most this much of an export before answering.
const MAX_DISCARD_BYTES: usize = 4 * 1024 * 1024;

pub async fn sink(body: Body) -> Response {
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        read = read.saturating_add(chunk.len());
        if read >= MAX_DISCARD_BYTES {
            break;
        }
    }
    (StatusCode::OK, Json(json!({}))).into_response()
}
