//! A hand-written AWS Signature Version 4 verifier (independent of conduit's signer): canonical
//! request from the raw received path (each segment URI-encoded again, as AWS does for non-S3
//! services), sorted query, the signed headers and the payload hash; then the HMAC key chain.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::reasoning::hmac_sha256;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigV4Error {
    /// The Authorization header is not a well-formed SigV4 one (or `x-amz-date` is missing).
    Incomplete(String),
    UnknownAccessKey,
    WrongService(String),
    WrongRegion,
    Expired,
    BadSignature,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix(ALGORITHM)?.trim_start();
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let scope: Vec<&str> = credential?.split('/').collect();
        let [access_key, date, region, service, "aws4_request"] = scope.as_slice() else {
            return None;
        };
        Some(Authorization {
            access_key: (*access_key).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            signed_headers: signed?.split(';').map(str::to_owned).collect(),
            signature: signature?.to_owned(),
        })
    }

    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// URI-encode every byte except the unreserved ones (`A-Za-z0-9-_.~`).
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex_at = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex_at(i + 1), hex_at(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    raw_path
        .split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    out
}

/// The canonical request of SigV4 step 1.
pub(crate) fn canonical_request(
    method: &str,
    raw_path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    signed: &[String],
    body: &[u8],
) -> String {
    format!(
        "{method}\n{}\n{}\n{}\n{}\n{}",
        canonical_uri(raw_path),
        canonical_query(query),
        canonical_headers(headers, signed),
        signed.join(";"),
        sha256_hex(body)
    )
}

/// The signature of a canonical request under a secret key.
pub(crate) fn sign(secret: &str, amz_date: &str, auth: &Authorization, canonical: &str) -> String {
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        auth.scope(),
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), &[auth.date.as_bytes()]);
    let k_region = hmac_sha256(&k_date, &[auth.region.as_bytes()]);
    let k_service = hmac_sha256(&k_region, &[auth.service.as_bytes()]);
    let k_signing = hmac_sha256(&k_service, &[b"aws4_request"]);
    hex(&hmac_sha256(&k_signing, &[to_sign.as_bytes()]))
}

/// `YYYYMMDDTHHMMSSZ` → seconds since the Unix epoch.
fn parse_amz_date(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    if s.len() != 16 || s.get(8..9) != Some("T") || s.get(15..16) != Some("Z") {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// What the verifier needs to know about the request and the accepted credentials.
pub(crate) struct Check<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub secret_of: &'a dyn Fn(&str) -> Option<String>,
    pub services: &'a [String],
    /// The region the request was addressed to (`/region/R`), if any.
    pub region: Option<&'a str>,
    pub max_skew_secs: u64,
}

/// Verify a SigV4-signed request; returns the access key id on success.
pub(crate) fn verify(auth_header: &str, c: &Check<'_>) -> Result<String, SigV4Error> {
    let auth = Authorization::parse(auth_header).ok_or_else(|| {
        SigV4Error::Incomplete(format!("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={auth_header}"))
    })?;
    let secret = (c.secret_of)(&auth.access_key).ok_or(SigV4Error::UnknownAccessKey)?;
    if !c.services.contains(&auth.service) {
        let want = c.services.first().cloned().unwrap_or_default();
        return Err(SigV4Error::WrongService(want));
    }
    if c.region.is_some_and(|r| r != auth.region) {
        return Err(SigV4Error::WrongRegion);
    }
    let amz_date = c
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SigV4Error::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .to_owned(),
            )
        })?;
    let when = parse_amz_date(amz_date).ok_or(SigV4Error::BadSignature)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - when).unsigned_abs() > c.max_skew_secs {
        return Err(SigV4Error::Expired);
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(SigV4Error::BadSignature);
    }
    let canonical = canonical_request(
        c.method,
        c.raw_path,
        c.query,
        c.headers,
        &auth.signed_headers,
        c.body,
    );
    let want = sign(&secret, amz_date, &auth, &canonical);
    let same = want.len() == auth.signature.len()
        && want
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(auth.access_key)
    } else {
        Err(SigV4Error::BadSignature)
    }
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
