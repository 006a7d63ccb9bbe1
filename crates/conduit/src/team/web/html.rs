//! Server-rendered pages: escaping, the one layout, and the headers every page carries (a CSP
//! that allows no script, style or frame and lets forms post only here or to the identity
//! providers; no caching; no referrer, so a callback's code never leaks).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_core::Error;

use crate::state::TeamState;

/// `s` safe inside HTML text and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// A page: status, title, body (already escaped HTML), cookies to set.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub title: String,
    pub body: String,
    pub cookies: Vec<String>,
    /// Origins forms may post to (and be redirected to) besides this one.
    pub form_origins: Vec<String>,
    pub retry_after: Option<u64>,
}

impl Page {
    pub fn new(status: StatusCode, title: &str, body: String) -> Page {
        Page {
            status,
            title: title.to_owned(),
            body,
            cookies: Vec::new(),
            form_origins: Vec::new(),
            retry_after: None,
        }
    }

    /// A page with one paragraph of plain text.
    pub fn notice(status: StatusCode, title: &str, text: &str) -> Page {
        Page::new(status, title, format!("<p>{}</p>", escape(text)))
    }

    /// No identity provider and no portal session: sign in with a password first, then `then`.
    pub fn sign_in_first(then: &str) -> Page {
        Page::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            format!(
                "<p>This gateway has no identity provider. <a href=\"/portal\">Sign in to the \
                 portal</a>, then {}.</p>",
                escape(then)
            ),
        )
    }

    pub fn cookie(mut self, cookie: String) -> Page {
        self.cookies.push(cookie);
        self
    }

    /// Let forms lead to the identity providers' sign-in pages.
    pub fn for_idps(mut self, team: &TeamState) -> Page {
        self.form_origins = idp_origins(team);
        self
    }
}

/// The origins of every enabled IdP's issuer (where its sign-in page lives).
fn idp_origins(team: &TeamState) -> Vec<String> {
    team.oidc
        .issuers()
        .iter()
        .filter_map(|issuer| url::Url::parse(issuer).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null" && !o.contains([';', ',', '\'', ' ']))
        .collect()
}

impl From<Error> for Page {
    fn from(e: Error) -> Page {
        let (status, _) = conduit_anthropic::error_body(&e);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut page = Page::notice(status, "Sign-in failed", &e.message);
        page.retry_after = e.retry_after;
        page
    }
}

impl From<conduit_store::StoreError> for Page {
    fn from(e: conduit_store::StoreError) -> Page {
        Page::from(crate::team::api::store_error(e))
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} · conduit</title>\
             <link rel=\"stylesheet\" href=\"{css}\"></head>\n\
             <body class=\"plain\"><main>\n<h1>{title}</h1>\n{body}\n</main></body></html>\n",
            css = crate::team::portal::assets::CSS_PATH,
            title = escape(&self.title),
            body = self.body,
        );
        let mut response = (self.status, html).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let mut form_action = String::from("'self'");
        for origin in &self.form_origins {
            form_action.push(' ');
            form_action.push_str(origin);
        }
        let csp = format!(
            "default-src 'none'; style-src 'self'; form-action {form_action}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            headers.insert(CONTENT_SECURITY_POLICY, v);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        finish(&mut response, &self.cookies);
        response
    }
}

/// A redirect (302 after a GET, 303 after a POST) that sets `cookies`.
pub fn redirect(status: StatusCode, location: &str, cookies: &[String]) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    finish(&mut response, cookies);
    response
}

/// The headers every answer here carries, and its cookies.
pub fn finish(response: &mut Response, cookies: &[String]) {
    let headers = response.headers_mut();
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let cases = [
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a\"b'c&d", "a&quot;b&#39;c&amp;d"),
            ("plain", "plain"),
        ];
        for (raw, want) in cases {
            assert_eq!(escape(raw), want);
        }
    }
}
