//! The console's frame: a header with who is signed in and a sign-out button, navigation by
//! role, the page's notice, and its body; and the headers every console page carries (the
//! sign-in pages' set, with a CSP that also allows this gateway's own stylesheet and script).

use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::assets::{CSS_PATH, JS_PATH};
use super::view::{Failure, Viewer};
use crate::team::web::html::finish;

/// No inline script or style anywhere; no frames; forms post here only.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The navigation: path, label, whether only admins and auditors see it.
const NAV: [(&str, &str, bool); 9] = [
    ("/portal", "Overview", false),
    ("/portal/keys", "Keys", false),
    ("/portal/spend", "Spend", false),
    ("/portal/users", "Users", true),
    ("/portal/teams", "Teams", true),
    ("/portal/idps", "Identity providers", true),
    ("/portal/budgets", "Budgets and limits", true),
    ("/portal/audit", "Audit log", true),
    ("/portal/connect", "Connect Claude Code", false),
];

/// What a redirect after a form says on the next page (`?done=<code>`): fixed texts only, so
/// a crafted link cannot put words in the gateway's mouth.
const DONE: [(&str, &str); 10] = [
    ("key_revoked", "Key revoked."),
    ("user_created", "User created."),
    ("user_updated", "User updated."),
    ("team_created", "Team created."),
    ("idp_added", "Identity provider added."),
    ("budget_set", "Budget saved."),
    ("budget_deleted", "Budget deleted."),
    ("limit_set", "Rate limit saved."),
    ("limit_deleted", "Rate limit deleted."),
    ("user_moved", "User moved."),
];

/// The notice for a `done` code.
pub fn done(code: Option<&str>) -> Option<&'static str> {
    let code = code?;
    DONE.iter().find(|(c, _)| *c == code).map(|(_, text)| *text)
}

/// The redirect after a successful form: back to `path` with its notice.
pub fn after(path: &str, code: &str) -> Response {
    crate::team::web::html::redirect(StatusCode::SEE_OTHER, &format!("{path}?done={code}"), &[])
}

/// A console page for `viewer`: `here` is the navigation entry it belongs to.
pub fn page(
    viewer: &Viewer,
    here: &str,
    title: &str,
    notice: Option<&str>,
    body: Markup,
) -> Response {
    page_with(viewer, StatusCode::OK, here, title, notice, body)
}

pub fn page_with(
    viewer: &Viewer,
    status: StatusCode,
    here: &str,
    title: &str,
    notice: Option<&str>,
    body: Markup,
) -> Response {
    let who = viewer.me.subject.clone().unwrap_or_default();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "conduit" }
                    span.who { (who) " · " (viewer.role().as_str()) }
                    form.signout method="post" action="/portal/logout" {
                        input type="hidden" name="csrf" value=(viewer.csrf());
                        button type="submit" { "Sign out" }
                    }
                }
                nav aria-label="Main" {
                    ul {
                        @for (path, label, readers) in NAV {
                            @if !readers || viewer.reader() {
                                li {
                                    @if path == here {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    @if let Some(text) = notice {
                        p role="status" { (text) }
                    }
                    (body)
                }
            }
        }
    };
    respond(status, markup)
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · conduit" }
            link rel="stylesheet" href=(CSS_PATH);
            script src=(JS_PATH) defer {}
        }
    }
}

/// A refusal or failure page (no navigation: the viewer may not be known).
pub fn failure(f: &Failure) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(f.title()))
            body.plain {
                main #main {
                    h1 { (f.title()) }
                    p role="alert" { (f.message) }
                    p { a href="/portal" { "Back to the portal" } }
                }
            }
        }
    };
    let mut response = respond(f.status, markup);
    if let Some(secs) = f.retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    finish(&mut response, &[]);
    response
}

/// A whole-dollar-and-cents figure from nano-dollars (`$1,234.57`; under a cent, `$0.0042`).
pub fn usd(nanos: i64) -> String {
    let dollars = nanos as f64 / 1e9;
    if dollars != 0.0 && dollars.abs() < 0.01 {
        return format!("${dollars:.4}");
    }
    let cents = (nanos as f64 / 1e7).round() as i64;
    let whole = (cents / 100).abs().to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{:02}", (cents % 100).abs())
}

/// Unix seconds as `2026-12-06 14:03 UTC`.
pub fn when(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Unix seconds as the UTC date `2026-12-06`.
pub fn day(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars() {
        for (nanos, want) in [
            (0, "$0.00"),
            (4_200_000, "$0.0042"),
            (1_234_567_890_000, "$1,234.57"),
            (100_000_000_000, "$100.00"),
            (999_999_999_999_999, "$1,000,000.00"),
        ] {
            assert_eq!(usd(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn done_codes_are_fixed_texts() {
        assert_eq!(done(Some("key_revoked")), Some("Key revoked."));
        assert_eq!(done(Some("<script>")), None);
        assert_eq!(done(None), None);
    }

    #[test]
    fn times() {
        assert_eq!(when(1_796_083_200), "2026-12-01 00:00 UTC");
    }
}
