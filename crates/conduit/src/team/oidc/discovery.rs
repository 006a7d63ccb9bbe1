//! An IdP's discovery document (`<issuer>/.well-known/openid-configuration`) and JSON fetches
//! from IdPs: https only (plain http on loopback hosts), bodies capped at 1 MiB, and the
//! document's `issuer` equal to the configured one exactly (OIDC Discovery 1.0 §4.3).

use conduit_core::{Error, ErrorKind};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The largest body read from an IdP.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the gateway uses from a discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

/// Whether `url` may be fetched: https, or http to localhost / 127.0.0.1 / ::1.
pub fn allowed_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let loopback = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

fn unreachable(issuer: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("cannot use the identity provider {issuer}: {why}"),
    )
}

/// Fetch and check the discovery document of `issuer`.
pub(super) async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, Error> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Discovery = get_json(http, issuer, &url).await?;
    if doc.issuer != issuer {
        return Err(unreachable(
            issuer,
            format!(
                "its discovery document names the issuer {:?}, not the configured one (compared \
                 exactly)",
                doc.issuer
            ),
        ));
    }
    for (what, endpoint) in [
        ("jwks_uri", &doc.jwks_uri),
        ("token_endpoint", &doc.token_endpoint),
        ("authorization_endpoint", &doc.authorization_endpoint),
    ] {
        if !allowed_url(endpoint) {
            return Err(unreachable(
                issuer,
                format!("its {what} {endpoint:?} is not https (plain http only on localhost)"),
            ));
        }
    }
    Ok(doc)
}

/// GET `url` as JSON: 2xx, at most [`MAX_BODY`] bytes.
pub(super) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    issuer: &str,
    url: &str,
) -> Result<T, Error> {
    if !allowed_url(url) {
        return Err(unreachable(
            issuer,
            format!("{url:?} is not https (plain http only on localhost)"),
        ));
    }
    let mut response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(issuer, format!("GET {url}: {}", without_url(&e))))?;
    if !response.status().is_success() {
        return Err(unreachable(
            issuer,
            format!("GET {url} answered {}", response.status()),
        ));
    }
    let body = match read_capped(&mut response, MAX_BODY).await {
        Ok(body) => body,
        Err(BodyError::Transport(e)) => {
            return Err(unreachable(
                issuer,
                format!("GET {url}: {}", without_url(&e)),
            ))
        }
        Err(BodyError::TooLarge) => {
            return Err(unreachable(
                issuer,
                format!("GET {url}: the answer is larger than 1 MiB"),
            ))
        }
    };
    serde_json::from_slice(&body)
        .map_err(|e| unreachable(issuer, format!("GET {url}: not the expected JSON ({e})")))
}

/// What a discovery test found (the portal's "Test discovery"): the endpoints and, per
/// signing key of the key set, its `kid` and algorithm or key type.
#[derive(Debug, Clone)]
pub struct Probe {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub keys: Vec<String>,
}

/// Fetch `issuer`'s discovery document and key set with the checks sign-in uses.
pub async fn probe(http: &reqwest::Client, issuer: &str) -> Result<Probe, Error> {
    if !allowed_url(issuer) {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "{issuer:?} is not an https URL (plain http is allowed only to localhost,                  127.0.0.1 and ::1)"
            ),
        ));
    }
    let doc = discover(http, issuer).await?;
    let set: serde_json::Value = get_json(http, issuer, &doc.jwks_uri).await?;
    let keys = set["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    let kid = k["kid"].as_str().unwrap_or("(no kid)");
                    let alg = k["alg"].as_str().or(k["kty"].as_str()).unwrap_or("?");
                    format!("{kid} ({alg})")
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Probe {
        issuer: doc.issuer,
        authorization_endpoint: doc.authorization_endpoint,
        token_endpoint: doc.token_endpoint,
        jwks_uri: doc.jwks_uri,
        keys,
    })
}

/// Why [`read_capped`] gave up.
pub enum BodyError {
    Transport(reqwest::Error),
    /// Longer than the cap: nothing more was read.
    TooLarge,
}

/// The whole body of an identity provider's answer, refused beyond `max` bytes.
pub async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url") {
        e.truncate(i);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::allowed_url;

    #[test]
    fn https_or_loopback_http() {
        for (url, ok) in [
            ("https://idp.example.com", true),
            ("http://localhost:4000", true),
            ("http://127.0.0.1:4000/x", true),
            ("http://[::1]:4000", true),
            ("http://idp.example.com", false),
            ("http://127.0.0.2", false),
            ("ftp://localhost", false),
            ("not a url", false),
        ] {
            assert_eq!(allowed_url(url), ok, "{url}");
        }
    }
}
