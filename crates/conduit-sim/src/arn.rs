//! Regions and profile ARNs (spec §9.2): the `/region/{region}/…` prefix that stands for host
//! `q.{region}.amazonaws.com`, and the rules on which `profileArn` each kind of account may send.

use axum::extract::Request;
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::errors;
use crate::model::{Account, AccountKind, HttpError};

/// The shared Builder ID placeholder profile (spec §9.2).
pub const BUILDER_ID_PLACEHOLDER_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:638616132270:profile/AAAACCCCXXXX";

/// The shared profile the Kiro auth service hands to social accounts (spec §1.1, §9.2).
pub const SOCIAL_DEFAULT_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";

/// Regions where ListAvailableProfiles answers.
pub const PROFILE_REGIONS: [&str; 2] = ["us-east-1", "eu-central-1"];

/// The region a request was addressed to: `Some` under `/region/{region}/…`, `None` at the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ApiRegion(pub Option<String>);

/// The path exactly as received (before the region prefix was stripped), for SigV4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawPath(pub String);

/// The region of an ARN (`arn:aws:codewhisperer:{region}:{account}:profile/{id}`).
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some(_service), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!region.is_empty()).then_some(region)
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Split `/region/{region}/rest` into `(region, /rest)`.
fn split_region(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/region/")?;
    let (region, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    valid_region(region).then_some((region, tail))
}

/// Middleware in front of routing: strip `/region/{region}` from the path and remember the
/// region as an [`ApiRegion`] extension (root requests get `ApiRegion(None)`).
pub(crate) async fn region_layer(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RawPath(path.clone()));
    let region = match split_region(&path) {
        Some((region, tail)) => {
            let pq = match req.uri().query() {
                Some(q) => format!("{tail}?{q}"),
                None => tail.to_owned(),
            };
            let mut parts = req.uri().clone().into_parts();
            if let Ok(p) = pq.parse() {
                parts.path_and_query = Some(p);
            }
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
            Some(region.to_owned())
        }
        None => None,
    };
    req.extensions_mut().insert(ApiRegion(region));
    next.run(req).await
}

/// The region rules apply in: the request's own, else `root_region` from the config
/// (`None` = the root does no region checks).
pub(crate) fn effective_region(region: &ApiRegion, root_region: Option<&str>) -> Option<String> {
    region.0.clone().or_else(|| root_region.map(str::to_owned))
}

/// Whether an external-IdP account's request carries `tokentype: EXTERNAL_IDP`.
pub(crate) fn has_external_idp_header(headers: &HeaderMap) -> bool {
    headers
        .get("tokentype")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("EXTERNAL_IDP"))
}

/// The ARNs an account may send on chat calls.
pub(crate) fn allowed_arns(account: &Account) -> Vec<String> {
    match account.kind {
        AccountKind::BuilderId => vec![BUILDER_ID_PLACEHOLDER_ARN.to_owned()],
        AccountKind::Social => {
            let own: Vec<String> = account.all_profiles().into_iter().map(|p| p.arn).collect();
            if own.is_empty() {
                vec![SOCIAL_DEFAULT_ARN.to_owned()]
            } else {
                own
            }
        }
        AccountKind::Idc | AccountKind::Enterprise | AccountKind::ExternalIdp => account
            .all_profiles()
            .into_iter()
            .map(|p| p.arn)
            .filter(|a| a != BUILDER_ID_PLACEHOLDER_ARN)
            .collect(),
    }
}

/// The profileArn rules of a chat call (spec §9.2), after the missing-ARN check: the ARN's
/// region must be the request's (400 Improperly formed), and it must be one the account may
/// send (403 not authorized).
pub(crate) fn check_chat_arn(
    account: &Account,
    arn: &str,
    region: Option<&str>,
) -> Result<(), HttpError> {
    if let Some(region) = region {
        if arn_region(arn).is_some_and(|r| r != region) {
            return Err(errors::improperly_formed());
        }
    }
    if allowed_arns(account).iter().any(|a| a == arn) {
        Ok(())
    } else {
        Err(errors::not_authorized())
    }
}

/// The profiles ListAvailableProfiles shows in this region (`None` = all, no region check).
pub(crate) fn listed_profiles(
    account: &Account,
    region: Option<&str>,
) -> Vec<crate::model::Profile> {
    if account.kind == AccountKind::BuilderId {
        return Vec::new();
    }
    account
        .all_profiles()
        .into_iter()
        .filter(|p| p.arn != BUILDER_ID_PLACEHOLDER_ARN || account.kind == AccountKind::Social)
        .filter(|p| region.is_none_or(|r| arn_region(&p.arn) == Some(r)))
        .collect()
}

/// The REST usage and model-list GETs refuse a real (non-placeholder) `profileArn` query.
pub(crate) fn check_rest_query_arn(query: Option<&str>) -> Result<(), HttpError> {
    let Some(query) = query else {
        return Ok(());
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "profileArn" {
            continue;
        }
        let v = percent_decode(v);
        if !v.is_empty() && v != BUILDER_ID_PLACEHOLDER_ARN && v != SOCIAL_DEFAULT_ARN {
            return Err(errors::improperly_formed());
        }
    }
    Ok(())
}

/// Decode `%XX` escapes and `+` (query strings and form bodies).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_region_prefix() {
        assert_eq!(
            split_region("/region/eu-central-1/generateAssistantResponse"),
            Some(("eu-central-1", "/generateAssistantResponse"))
        );
        assert_eq!(split_region("/region/us-east-1"), Some(("us-east-1", "/")));
        assert_eq!(split_region("/generateAssistantResponse"), None);
        assert_eq!(split_region("/region/EU/x"), None);
    }

    #[test]
    fn arn_regions() {
        assert_eq!(arn_region(BUILDER_ID_PLACEHOLDER_ARN), Some("us-east-1"));
        assert_eq!(arn_region("arn:a"), None);
        assert_eq!(percent_decode("arn%3Aaws%3Ax"), "arn:aws:x");
    }
}
