//! `HEAD /api/hello` (and `GET`): Claude Code's connection-warming probe. Answered at once,
//! without the key guard and without any upstream call: it only opens a connection.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn hello() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"hello"}"#,
    )
        .into_response()
}
