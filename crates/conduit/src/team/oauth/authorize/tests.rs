use super::*;

/// base64url(SHA-256("verifier-0123456789-0123456789-0123456789")) and the same bytes in hex.
const C: &str = "fPc7wtmTs3M3V70EldOc7-yL4fAeQRnBhGAixq3XYqw";
const C_HEX: &str = "7cf73bc2d993b3733757bd0495d39cefec8be1f01e4119c1846022c6add762ac";
const R: &str = "http%3A%2F%2F127.0.0.1%3A4711%2Fcallback";

/// What `check` makes of `query`, in one line: `ok <redirect_uri> <state> <challenge hex>`,
/// `page`, or `redirect <url>`.
fn outcome(query: &str) -> String {
    match check(query) {
        Ok(c) => format!(
            "ok {} {} {}",
            c.request.redirect_uri,
            c.request.state.as_deref().unwrap_or("-"),
            c.challenge
        ),
        Err(Refused::Page(_)) => "page".into(),
        Err(Refused::Redirect(url)) => format!("redirect {url}"),
    }
}

/// A query: the good one with `name` replaced by `value` (`None`: left out); `extra` appended.
fn query(name: &str, value: Option<&str>, extra: &str) -> String {
    let good = [
        ("response_type", "code"),
        ("client_id", "conduit-cli"),
        ("redirect_uri", R),
        ("code_challenge", C),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ];
    let mut parts: Vec<String> = Vec::new();
    for (n, v) in good {
        let v = if n == name { value } else { Some(v) };
        if let Some(v) = v {
            parts.push(format!("{n}={v}"));
        }
    }
    parts.join("&") + extra
}

#[test]
fn authorization_requests() {
    let back = "redirect http://127.0.0.1:4711/callback?error=";
    let cases: &[(&str, Option<&str>, &str, String)] = &[
        (
            "-",
            None,
            "",
            format!("ok http://127.0.0.1:4711/callback xyz {C_HEX}"),
        ),
        // Unknown parameters (a scope) are ignored; no state is allowed and none echoed.
        (
            "state",
            None,
            "&scope=x",
            format!("ok http://127.0.0.1:4711/callback - {C_HEX}"),
        ),
        ("client_id", Some("other"), "", "page".into()),
        ("client_id", None, "", "page".into()),
        ("-", None, "&client_id=conduit-cli", "page".into()),
        ("redirect_uri", None, "", "page".into()),
        ("-", None, &format!("&redirect_uri={R}"), "page".into()),
        (
            "response_type",
            Some("token"),
            "",
            format!(
                "{back}unsupported_response_type&error_description=response_type+must+be+%60code%60&state=xyz"
            ),
        ),
        (
            "response_type",
            None,
            "",
            format!("{back}invalid_request&error_description=response_type+%60code%60+is+required&state=xyz"),
        ),
        (
            "code_challenge_method",
            Some("plain"),
            "",
            format!("{back}invalid_request&error_description=code_challenge_method+must+be+%60S256%60+%28PKCE%29&state=xyz"),
        ),
        (
            "code_challenge_method",
            None,
            "",
            format!("{back}invalid_request&error_description=code_challenge_method+must+be+%60S256%60+%28PKCE%29&state=xyz"),
        ),
    ];
    for (name, value, extra, want) in cases {
        assert_eq!(
            &outcome(&query(name, *value, extra)),
            want,
            "{name}={value:?}{extra}"
        );
    }
    // Challenges that are not 43 base64url characters of 32 bytes.
    let too_short = &C[..42];
    let padded = format!("{too_short}%3D");
    let not_b64 = format!("{too_short}*");
    let last_bits = format!("{too_short}x"); // 43 characters, but stray low bits
    for bad in [
        too_short,
        padded.as_str(),
        not_b64.as_str(),
        last_bits.as_str(),
        "",
    ] {
        let got = outcome(&query("code_challenge", Some(bad), ""));
        assert!(
            got.starts_with(&format!(
                "{back}invalid_request&error_description=code_challenge"
            )),
            "{bad}: {got}"
        );
    }
    // state sent twice: refused without echoing either.
    let twice = outcome(&query("-", None, "&state=abc"));
    assert!(
        twice.starts_with(&format!("{back}invalid_request")),
        "{twice}"
    );
    assert!(!twice.contains("state=x"), "{twice}");
}

#[test]
fn loopback_redirects() {
    let cases = [
        ("http://127.0.0.1:4711/callback", true),
        ("http://127.0.0.1:1/", true),
        ("http://127.0.0.1:80/cb", true),
        ("http://[::1]:4711/callback", true),
        ("http://127.0.0.1:4711/cb?x=1", true),
        ("http://localhost:4711/callback", false),
        ("https://127.0.0.1:4711/callback", false),
        ("http://127.0.0.1/callback", false),
        ("http://127.0.0.1:/callback", false),
        ("http://127.0.0.1:4711", false),
        ("http://127.0.0.1:4711/cb#frag", false),
        ("http://127.0.0.1:4711@evil.example/cb", false),
        ("http://user@127.0.0.1:4711/cb", false),
        ("http://127.0.0.2:4711/cb", false),
        ("http://127.1:4711/cb", false),
        ("http://evil.example/http://127.0.0.1:1/", false),
        ("http://127.0.0.1:4711/a b", false),
        ("http://127.0.0.1:123456/cb", false),
        ("http://[::2]:4711/cb", false),
        ("", false),
    ];
    for (uri, want) in cases {
        assert_eq!(loopback(uri), want, "{uri}");
    }
    let long = format!("http://127.0.0.1:1/{}", "a".repeat(2100));
    assert!(!loopback(&long));
}

#[test]
fn answer_urls_keep_the_redirect_query_and_escape() {
    let request = AuthorizeRequest {
        redirect_uri: "http://127.0.0.1:4711/cb?x=1".into(),
        state: Some("a b&c".into()),
    };
    assert_eq!(
        code_url(&request, "CODE", "https://gw.example:8443"),
        "http://127.0.0.1:4711/cb?x=1&code=CODE&state=a+b%26c&iss=https%3A%2F%2Fgw.example%3A8443"
    );
    let no_state = AuthorizeRequest {
        state: None,
        ..request
    };
    assert_eq!(
        error_url(&no_state, "access_denied", "cancelled"),
        "http://127.0.0.1:4711/cb?x=1&error=access_denied&error_description=cancelled"
    );
    assert_eq!(
        form_origin("http://127.0.0.1:4711/cb"),
        "http://127.0.0.1:4711"
    );
    assert_eq!(form_origin("http://[::1]:4711/cb"), "http:");
}
