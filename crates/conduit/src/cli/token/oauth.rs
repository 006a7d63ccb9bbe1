//! The authorization server's HTTP calls, blocking (a current-thread runtime, built only on the
//! slow paths: sign-in, refresh, logout, status): discovery (RFC 8414 for a gateway, OpenID
//! Connect for an IdP), the token endpoint (authorization code, refresh), revocation (RFC 7009)
//! and the gateway's `/auth/me`. No token ever appears in an error: they travel in bodies and
//! headers, and answers are quoted only by their `error` fields.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// The gateway's built-in public client (docs/design-token.md §1).
pub const CLI_CLIENT_ID: &str = "conduit-cli";

pub struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// The endpoints of an authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
}

/// A token endpoint's success answer.
#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub id_token: Option<String>,
}

/// Why the token endpoint gave no tokens.
#[derive(Debug)]
pub enum TokenError {
    /// A 4xx with an OAuth error (`invalid_grant` …).
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// Unreachable, a 5xx, or an answer that is not OAuth: worth trying later.
    Unavailable(String),
}

impl TokenError {
    pub fn is_invalid_grant(&self, status: u16) -> bool {
        matches!(self, Self::Refused { status: s, error, .. } if *s == status && error == "invalid_grant")
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused {
                status,
                error,
                description,
            } => {
                write!(f, "{error} (HTTP {status})")?;
                if let Some(d) = description {
                    write!(f, ": {}", one_line(d, 200))?;
                }
                Ok(())
            }
            Self::Unavailable(why) => f.write_str(why),
        }
    }
}

/// At most `max` characters of `text`, on one line.
fn one_line(text: &str, max: usize) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// Whether a URL's host is this machine.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A base URL for tokens: https, or plain http to this machine only; no trailing slash.
pub fn base_url(url: &str, what: &str) -> anyhow::Result<String> {
    let base = crate::cli::team::http::normalize_url(url)?;
    let parsed = reqwest::Url::parse(&base)?;
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        bail!(
            "{base} is plain http: tokens would cross the network in the clear; give the {what}'s \
             https URL (plain http only for one on this machine)"
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("{base}: give the {what}'s URL without a query or fragment");
    }
    Ok(base)
}

impl Client {
    /// A client trusting `ca_pem` (PEM certificates) besides the usual roots; the user's HTTP
    /// proxy is skipped for `base` on this machine.
    pub fn new(base: &str, ca_pem: Option<&str>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| anyhow!("the CA certificate is not valid PEM: {e}"))?;
            if certs.is_empty() {
                bail!("the CA certificate file holds no PEM certificate");
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if reqwest::Url::parse(base).is_ok_and(|u| is_loopback(&u)) {
            builder = builder.no_proxy();
        }
        let http = builder.build().context("cannot build the HTTP client")?;
        Ok(Self { runtime, http })
    }

    /// A team gateway's metadata; it must offer authorization code + PKCE S256.
    pub fn gateway_metadata(&self, gateway: &str) -> anyhow::Result<Metadata> {
        let url = format!("{gateway}/.well-known/oauth-authorization-server");
        let doc = self.get_json(&url, None)?;
        let meta = metadata(&doc, &url)?;
        let s256 = doc["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|m| m.iter().any(|v| v == "S256"));
        if !s256 {
            bail!(
                "{gateway} does not offer sign-in with PKCE (no S256 in {url}): is it a conduit \
                 team gateway of this version?"
            );
        }
        Ok(meta)
    }

    /// An OpenID provider's metadata; its `issuer` must be the one given.
    pub fn idp_metadata(&self, issuer: &str) -> anyhow::Result<Metadata> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc = self.get_json(&url, None)?;
        let meta = metadata(&doc, &url)?;
        if meta.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            bail!(
                "{url} names the issuer {:?}, not {issuer:?}: give --issuer exactly as the IdP \
                 names itself",
                meta.issuer
            );
        }
        let methods = doc["code_challenge_methods_supported"].as_array();
        if methods.is_some_and(|m| !m.iter().any(|v| v == "S256")) {
            bail!("{issuer} does not support PKCE with S256");
        }
        Ok(meta)
    }

    /// `POST endpoint` with a form; the tokens, or why not.
    pub fn token(&self, endpoint: &str, form: &[(&str, &str)]) -> Result<TokenAnswer, TokenError> {
        let (status, text) = self
            .post_form(endpoint, form)
            .map_err(|e| TokenError::Unavailable(format!("{e:#}")))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return serde_json::from_value::<TokenAnswer>(body)
                .ok()
                .filter(|a| a.access_token.is_some() || a.id_token.is_some())
                .ok_or_else(|| {
                    TokenError::Unavailable(format!("{endpoint} answered without tokens"))
                });
        }
        match body["error"].as_str() {
            Some(error) if status.is_client_error() => Err(TokenError::Refused {
                status: status.as_u16(),
                error: one_line(error, 64),
                description: body["error_description"].as_str().map(str::to_string),
            }),
            _ => Err(TokenError::Unavailable(format!(
                "{endpoint} answered HTTP {}",
                status.as_u16()
            ))),
        }
    }

    /// RFC 7009: revoke `token`. An error when the server could not be reached or did not
    /// answer 200.
    pub fn revoke(
        &self,
        endpoint: &str,
        token: &str,
        hint: &str,
        client_id: &str,
    ) -> anyhow::Result<()> {
        let form = [
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", client_id),
        ];
        let (status, _) = self.post_form(endpoint, &form)?;
        if !status.is_success() {
            bail!("{endpoint} answered HTTP {}", status.as_u16());
        }
        Ok(())
    }

    /// The gateway's `GET /auth/me` for this access token.
    pub fn me(&self, gateway: &str, access_token: &str) -> anyhow::Result<Value> {
        self.get_json(&format!("{gateway}/auth/me"), Some(access_token))
    }

    fn get_json(&self, url: &str, bearer: Option<&str>) -> anyhow::Result<Value> {
        self.runtime.block_on(async {
            let mut req = self.http.get(url).header("accept", "application/json");
            if let Some(token) = bearer {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.map_err(|e| unreachable(url, &e))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .with_context(|| format!("GET {url}: the answer broke off"))?;
            if !status.is_success() {
                bail!("GET {url} answered HTTP {}", status.as_u16());
            }
            serde_json::from_str(&text).map_err(|_| anyhow!("GET {url} did not answer JSON"))
        })
    }

    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> anyhow::Result<(StatusCode, String)> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.runtime.block_on(async {
            let resp = self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| unreachable(url, &e))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .with_context(|| format!("POST {url}: the answer broke off"))?;
            Ok((status, text))
        })
    }
}

/// The endpoints a discovery document must name.
fn metadata(doc: &Value, url: &str) -> anyhow::Result<Metadata> {
    let field = |name: &str| doc[name].as_str().filter(|s| !s.is_empty());
    let need = |name: &str| {
        field(name)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{url} names no {name}: browser sign-in is not offered there"))
    };
    Ok(Metadata {
        issuer: need("issuer")?,
        authorization_endpoint: need("authorization_endpoint")?,
        token_endpoint: need("token_endpoint")?,
        revocation_endpoint: field("revocation_endpoint").map(str::to_string),
    })
}

fn unreachable(url: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let chain = parts.join(": ");
    let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
        "; a self-signed gateway? pass its certificate with `conduit token login --ca-cert FILE`"
    } else {
        ""
    };
    anyhow!("cannot reach {url}: {chain}{hint}")
}

/// The claims of a JWT, read without checking its signature (for display and expiry only: the
/// token came straight from the token endpoint over the connection we opened).
pub fn jwt_claims(token: &str) -> Option<Value> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls_are_https_or_loopback_http() {
        let cases = [
            ("https://gw.example:8443/", Ok("https://gw.example:8443")),
            ("http://127.0.0.1:8765", Ok("http://127.0.0.1:8765")),
            ("http://localhost:1", Ok("http://localhost:1")),
            ("http://[::1]:9/", Ok("http://[::1]:9")),
            ("http://gw.example", Err("plain http")),
            ("http://10.0.0.1:8765", Err("plain http")),
            ("https://gw.example/?a=b", Err("without a query")),
            ("ftp://gw.example", Err("not an http(s) URL")),
            ("gw.example", Err("not a URL")),
        ];
        for (given, want) in cases {
            match (base_url(given, "gateway"), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{given}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{given}: {e}"),
                (got, w) => panic!("{given}: wanted {w:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn discovery_needs_the_code_flow_endpoints() {
        let full = serde_json::json!({
            "issuer": "https://gw", "authorization_endpoint": "https://gw/oauth/authorize",
            "token_endpoint": "https://gw/oauth/token", "revocation_endpoint": "https://gw/oauth/revoke",
        });
        let m = metadata(&full, "u").unwrap();
        assert_eq!(
            m.revocation_endpoint.as_deref(),
            Some("https://gw/oauth/revoke")
        );
        for missing in ["issuer", "authorization_endpoint", "token_endpoint"] {
            let mut doc = full.clone();
            doc.as_object_mut().unwrap().remove(missing);
            let e = metadata(&doc, "u").unwrap_err().to_string();
            assert!(e.contains(missing), "{e}");
        }
        let mut doc = full;
        doc.as_object_mut().unwrap().remove("revocation_endpoint");
        assert_eq!(metadata(&doc, "u").unwrap().revocation_endpoint, None);
    }

    #[test]
    fn jwt_claims_reads_the_payload_or_nothing() {
        let token = "eyJhbGciOiJub25lIn0.eyJleHAiOjEyMywiZW1haWwiOiJhQGIifQ.sig";
        let claims = jwt_claims(token).unwrap();
        assert_eq!(
            (claims["exp"].as_i64(), claims["email"].as_str()),
            (Some(123), Some("a@b"))
        );
        for bad in ["", "a", "a.!!!.c", "a.bm90IGpzb24.c", "a.MTI.c"] {
            assert_eq!(jwt_claims(bad), None, "{bad}");
        }
    }
}
