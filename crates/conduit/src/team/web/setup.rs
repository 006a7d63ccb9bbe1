//! `GET /auth/setup/token-script` (a POSIX sh token helper for Claude Code's `apiKeyHelper`)
//! and `GET /auth/setup` (an installer that puts it in place and points Claude Code's settings
//! at this gateway). Both are files in this directory with the gateway's address filled in.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Ctx;

const TOKEN_SCRIPT: &str = include_str!("token-script.sh");
const SETUP_SCRIPT: &str = include_str!("setup.sh");
/// The helper's cache in Claude Code ends this long before the session does.
const TTL_MARGIN_MS: u64 = 5 * 60 * 1000;

/// The base URL, when it is safe to put between single quotes in a shell script.
fn shell_safe(base: &str) -> Option<&str> {
    let ok = base.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'_' | b'[' | b']')
    });
    (ok && (base.starts_with("http://") || base.starts_with("https://"))).then_some(base)
}

fn script(ctx: &Ctx, text: &str) -> Response {
    let Some(base) = shell_safe(&ctx.base) else {
        return (
            StatusCode::BAD_REQUEST,
            "# this gateway's address cannot be put in a script; set CONDUIT_PUBLIC_URL\n",
        )
            .into_response();
    };
    let ttl_ms = u64::try_from(ctx.team.settings.session_ttl.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_sub(TTL_MARGIN_MS)
        .max(60_000);
    let body = text
        .replace("__CONDUIT_GATEWAY__", base)
        .replace("__CONDUIT_TTL_MS__", &ttl_ms.to_string());
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/x-shellscript; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /auth/setup/token-script`.
pub async fn token_script(ctx: Ctx) -> Response {
    script(&ctx, TOKEN_SCRIPT)
}

/// `GET /auth/setup`.
pub async fn installer(ctx: Ctx) -> Response {
    script(&ctx, SETUP_SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_urls_go_into_scripts() {
        let cases = [
            ("https://gw.example.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://[::1]:8080", true),
            ("https://gw'$(reboot)", false),
            ("ftp://gw", false),
            ("https://gw\"x", false),
        ];
        for (base, ok) in cases {
            assert_eq!(shell_safe(base).is_some(), ok, "{base}");
        }
    }
}
