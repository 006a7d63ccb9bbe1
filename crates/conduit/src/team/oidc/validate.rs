//! The checks on an IdP's JWT (jsonwebtoken does the cryptography): at most 16 KiB before
//! anything is parsed; an algorithm from the key or the allowlist (never `none`, never HS*);
//! `iss` exact; `aud` a string or an array (then `azp` must name the audience); `exp`, `nbf`
//! and `iat` within the skew; the nonce of a browser sign-in; the e-mail rules
//! (`email_verified: false` refused, `allowed_domains` after the last `@`, case ignored).
//! Refusals say why in words and never echo the token.

use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_core::{Error, ErrorKind};
use conduit_store::Idp;
use jsonwebtoken::errors::ErrorKind as JwtError;
use jsonwebtoken::{Algorithm, Validation};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::jwks::Key;
use super::Identity;
use crate::team::wire::now;

/// The largest token looked at.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The algorithms an IdP token may use.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A 401 for an IdP token, saying why.
pub(super) fn refused(why: &str) -> Error {
    Error::new(
        ErrorKind::Authentication,
        format!("identity provider token refused: {why}"),
    )
}

/// The token header's algorithm (from the allowlist) and key id.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// What is read from a token before its signature is checked: only to pick the IdP and key.
pub(super) struct Parts {
    pub header: Header,
    pub issuer: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawPayload {
    #[serde(default)]
    iss: Option<Value>,
}

fn segment<T: DeserializeOwned>(part: &str, what: &str) -> Result<T, Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| refused(&format!("its {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| refused(&format!("its {what} is not a JSON object")))
}

impl Parts {
    pub(super) fn parse(token: &str) -> Result<Parts, Error> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refused("it is larger than 16 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("it is not a JWT (three base64url parts)"));
        };
        let raw: RawHeader = segment(header, "header")?;
        let alg = raw.alg.as_str();
        if alg.eq_ignore_ascii_case("none") {
            return Err(refused("alg none is never accepted"));
        }
        if alg.starts_with("HS") {
            return Err(refused(
                "shared-secret algorithms (HS*) are never accepted on identity provider tokens",
            ));
        }
        let alg = Algorithm::from_str(alg)
            .ok()
            .filter(|a| ALLOWED.contains(a))
            .ok_or_else(|| {
                refused(
                    "its algorithm is not one of RS256/384/512, PS256/384/512, ES256/384, EdDSA",
                )
            })?;
        let payload: RawPayload = segment(payload, "payload")?;
        let Some(Value::String(issuer)) = payload.iss else {
            return Err(refused("it has no issuer (iss) string"));
        };
        Ok(Parts {
            header: Header { alg, kid: raw.kid },
            issuer,
        })
    }
}

/// What a token must say for one IdP.
pub(super) struct Expect<'a> {
    pub idp: &'a Idp,
    /// The value `aud` must carry (and `azp` name, when `aud` is an array).
    pub audience: &'a str,
    pub nonce: Option<&'a str>,
    pub skew: Duration,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    azp: Option<String>,
    exp: f64,
    #[serde(default)]
    iat: Option<f64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    preferred_username: Option<Value>,
    #[serde(default)]
    upn: Option<Value>,
    #[serde(default)]
    email_verified: Option<Value>,
}

/// Check `token` with one of `keys` against `expect`: the identity and the token's `exp`.
pub(super) fn check(
    token: &str,
    parts: &Parts,
    keys: &[std::sync::Arc<Key>],
    expect: &Expect,
) -> Result<(Identity, i64), Error> {
    let alg = parts.header.alg;
    let mut validation = Validation::new(alg);
    validation.leeway = expect.skew.as_secs();
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    let mut last = refused("its algorithm does not fit the identity provider's key");
    let mut claims = None;
    for key in keys.iter().filter(|k| k.fits(alg)) {
        match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => last = jwt_refusal(e.kind(), expect.skew),
        }
    }
    let claims = claims.ok_or(last)?;
    claims_ok(&claims, expect)?;
    let email = email(&claims);
    email_ok(email.as_deref(), &claims, expect.idp)?;
    let identity = Identity {
        idp_id: expect.idp.id.clone(),
        issuer: claims.iss,
        subject: claims.sub,
        email,
    };
    Ok((identity, claims.exp as i64))
}

fn jwt_refusal(kind: &JwtError, skew: Duration) -> Error {
    let skew = skew.as_secs();
    match kind {
        JwtError::ExpiredSignature => refused(&format!("it has expired (exp, {skew} s leeway)")),
        JwtError::ImmatureSignature => {
            refused(&format!("it is not valid yet (nbf, {skew} s leeway)"))
        }
        JwtError::InvalidSignature => refused("its signature does not verify"),
        JwtError::MissingRequiredClaim(c) => refused(&format!("it has no {c} claim")),
        JwtError::InvalidAlgorithm => refused("its algorithm does not fit the key"),
        JwtError::Json(_) => refused("its claims are malformed (iss, sub, exp required)"),
        _ => refused("it is malformed or its key does not fit"),
    }
}

fn claims_ok(claims: &Claims, expect: &Expect) -> Result<(), Error> {
    if claims.iss != expect.idp.issuer_url {
        return Err(refused(
            "its issuer (iss) does not match (compared exactly)",
        ));
    }
    if claims.sub.is_empty() {
        return Err(refused("its subject (sub) is empty"));
    }
    match &claims.aud {
        None => return Err(refused("it has no audience (aud)")),
        Some(Audience::One(aud)) if aud == expect.audience => {}
        Some(Audience::Many(auds)) if auds.iter().any(|a| a == expect.audience) => {
            if claims.azp.as_deref() != Some(expect.audience) {
                return Err(refused(
                    "its aud is a list, and its azp does not name this gateway's audience",
                ));
            }
        }
        Some(_) => return Err(refused("its audience (aud) is not this gateway's")),
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now() as f64 + expect.skew.as_secs_f64())
    {
        return Err(refused("it was issued in the future (iat)"));
    }
    if let Some(nonce) = expect.nonce {
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(refused("its nonce is not the sign-in's"));
        }
    }
    Ok(())
}

/// The e-mail claim: `email`, else `preferred_username`, else `upn` (non-empty strings).
fn email(claims: &Claims) -> Option<String> {
    [&claims.email, &claims.preferred_username, &claims.upn]
        .into_iter()
        .find_map(|v| match v {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        })
}

fn email_ok(email: Option<&str>, claims: &Claims, idp: &Idp) -> Result<(), Error> {
    let unverified = match &claims.email_verified {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    };
    if unverified {
        return Err(refused(
            "the identity provider says its e-mail address is not verified (email_verified: false)",
        ));
    }
    if idp.allowed_domains.is_empty() {
        return Ok(());
    }
    let Some(email) = email else {
        return Err(refused(&format!(
            "it carries no e-mail address (email, preferred_username, upn), and {} admits only \
             some domains",
            idp.name
        )));
    };
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    let allowed = idp
        .allowed_domains
        .iter()
        .any(|d| d.trim_start_matches('@').eq_ignore_ascii_case(domain));
    if allowed && !domain.is_empty() {
        Ok(())
    } else {
        Err(refused(&format!(
            "the e-mail domain {domain:?} is not allowed at {}",
            idp.name
        )))
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
