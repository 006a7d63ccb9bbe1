//! The stylesheet and the one script (copy buttons, confirmations), compiled into the binary
//! and served from this gateway (the CSP allows no other origin and no inline code). Their
//! URLs carry the version, so a browser may keep them for a day.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/portal.css");
const JS: &str = include_str!("assets/portal.js");

pub const CSS_ROUTE: &str = "/portal/assets/portal.css";
pub const JS_ROUTE: &str = "/portal/assets/portal.js";
/// What pages link to.
pub const CSS_PATH: &str = concat!("/portal/assets/portal.css?v=", env!("CARGO_PKG_VERSION"));
pub const JS_PATH: &str = concat!("/portal/assets/portal.js?v=", env!("CARGO_PKG_VERSION"));

pub async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
