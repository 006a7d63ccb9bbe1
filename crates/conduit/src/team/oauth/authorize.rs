//! The authorization request of `conduit token login` (RFC 6749 §4.1, PKCE RFC 7636, loopback
//! redirects RFC 8252 §7.3), checked without IO, and the URLs its answers are sent to. The
//! pages around it are `team/web/authorize.rs`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_store::AuthorizeRequest;

use super::CLI_CLIENT_ID;

/// The longest `redirect_uri` and `state` accepted.
const MAX_REDIRECT_URI: usize = 2048;
const MAX_STATE: usize = 1024;

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub request: AuthorizeRequest,
    /// The S256 challenge's 32 bytes in hex: what the store keeps as a sign-in's challenge.
    pub challenge: String,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The client or its redirect URI is not one this gateway may redirect to: an error page,
    /// never a redirect (RFC 6749 §4.1.2.1).
    Page(String),
    /// Sent back to the (checked) redirect URI: `error`, `error_description`, `state`.
    Redirect(String),
}

/// Check the query of `GET /oauth/authorize`.
pub fn check(query: &str) -> Result<Checked, Refused> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    // RFC 6749 §3.1: no parameter may be sent twice.
    let one = |name: &str| -> Result<Option<&str>, ()> {
        let mut values = params.iter().filter(|(n, _)| n == name);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(()),
            (first, _) => Ok(first.map(|(_, v)| v.as_str())),
        }
    };
    match one("client_id") {
        Ok(Some(CLI_CLIENT_ID)) => {}
        Ok(Some(other)) => {
            let other: String = other.chars().take(64).collect();
            return Err(Refused::Page(format!(
                "This sign-in names an unknown client (`{other}`): this gateway's only client is \
                 `{CLI_CLIENT_ID}`. Run `conduit token login` again."
            )));
        }
        _ => {
            return Err(Refused::Page(format!(
                "This sign-in names no client (or several): this gateway's only client is \
                 `{CLI_CLIENT_ID}`. Run `conduit token login` again."
            )))
        }
    }
    let Some(redirect_uri) = one("redirect_uri").ok().flatten().filter(|r| loopback(r)) else {
        return Err(Refused::Page(
            "This sign-in's redirect_uri is not a loopback address of this computer \
             (http://127.0.0.1:<port>/… or http://[::1]:<port>/…), so it is not sent anywhere. \
             Run `conduit token login` again."
                .into(),
        ));
    };
    let state = one("state");
    let state = match state {
        Ok(s) if s.is_none_or(|s| s.len() <= MAX_STATE) => s.map(str::to_owned),
        _ => {
            let request = AuthorizeRequest {
                redirect_uri: redirect_uri.to_owned(),
                state: None,
            };
            let why = "state: send it once, at most 1024 characters";
            return Err(Refused::Redirect(error_url(
                &request,
                "invalid_request",
                why,
            )));
        }
    };
    let request = AuthorizeRequest {
        redirect_uri: redirect_uri.to_owned(),
        state,
    };
    let refuse = |error: &str, why: &str| Refused::Redirect(error_url(&request, error, why));
    match one("response_type") {
        Ok(Some("code")) => {}
        Ok(Some(_)) => {
            return Err(refuse(
                "unsupported_response_type",
                "response_type must be `code`",
            ))
        }
        _ => {
            return Err(refuse(
                "invalid_request",
                "response_type `code` is required",
            ))
        }
    }
    if one("code_challenge_method") != Ok(Some("S256")) {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be `S256` (PKCE)",
        ));
    }
    let challenge = one("code_challenge")
        .ok()
        .flatten()
        .filter(|c| c.len() == 43)
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .filter(|bytes| bytes.len() == 32);
    let Some(challenge) = challenge else {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be 43 base64url characters (the SHA-256 of the verifier)",
        ));
    };
    Ok(Checked {
        request,
        challenge: hex::encode(challenge),
    })
}

/// Whether `uri` is a loopback redirect: `http://127.0.0.1:<port>/<path>` or
/// `http://[::1]:<port>/<path>`, the port spelled out, no user info, no fragment (RFC 8252
/// §7.3; `localhost` is refused, §8.3). Checked on the text and on the parsed URL, so that no
/// spelling of another host gets through either.
pub fn loopback(uri: &str) -> bool {
    if uri.len() > MAX_REDIRECT_URI || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let Some(rest) = ["http://127.0.0.1:", "http://[::1]:"]
        .iter()
        .find_map(|prefix| uri.strip_prefix(prefix))
    else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=5).contains(&digits) || !rest[digits..].starts_with('/') || uri.contains('#') {
        return false;
    }
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let host_ok = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    };
    host_ok
        && url.scheme() == "http"
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && url.port_or_known_default().is_some()
}

/// `redirect_uri` with `pairs` added to its query.
fn answer_url(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.into()
        }
        // Checked by `loopback` before it was stored; never reached.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// Where the browser goes with the code: `?code&state&iss` (RFC 9207's `iss`).
pub fn code_url(request: &AuthorizeRequest, code: &str, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    pairs.extend(request.state.as_deref().map(|s| ("state", s)));
    pairs.push(("iss", issuer));
    answer_url(&request.redirect_uri, &pairs)
}

/// Where the browser goes with an error: `?error&error_description&state`.
pub fn error_url(request: &AuthorizeRequest, error: &str, description: &str) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    pairs.extend(request.state.as_deref().map(|s| ("state", s)));
    answer_url(&request.redirect_uri, &pairs)
}

/// The origin the consent page's form may lead to (its answer redirects there): a CSP source.
/// CSP cannot name an IPv6 literal, so `[::1]` gets the `http:` scheme.
pub fn form_origin(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) if matches!(url.host(), Some(url::Host::Ipv4(_))) => {
            url.origin().ascii_serialization()
        }
        _ => "http:".to_owned(),
    }
}

#[cfg(test)]
mod tests;
