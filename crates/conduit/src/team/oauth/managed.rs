//! `GET /managed/settings`: the managed-settings policy pushed to a signed-in Claude Code, in
//! the envelope `{"uuid","checksum":"sha256:<hex>","settings"}` with the checksum as `ETag`;
//! `If-None-Match` with it → 304; no policy → 404. Any credential `/v1` accepts may read it.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conduit_core::{Error, ErrorKind};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::state::TeamState;
use crate::team::api::{render, store_error};
use crate::team::Principal;

pub async fn settings(team: TeamState, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&team, &headers).await {
        return render(&e);
    }
    let policy = match team.store.managed_settings().await {
        Ok(Some(policy)) => policy,
        Ok(None) => {
            return render(&Error::new(
                ErrorKind::NotFound,
                "no managed settings are set at this gateway",
            ))
        }
        Err(e) => return render(&store_error(e)),
    };
    let checksum = checksum(&policy.settings);
    let etag = format!("\"{checksum}\"");
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(json!({
            "uuid": uuid_of(&checksum),
            "checksum": checksum,
            "settings": policy.settings,
        }))
        .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The principal of a presented credential, as the `/v1` guard finds it; else why not (401,
/// or 503 when the credentials are stale).
pub async fn authenticate(team: &TeamState, headers: &HeaderMap) -> Result<Principal, Error> {
    let secrets: Vec<String> = crate::routes::guard::presented_keys(headers)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if secrets.is_empty() {
        return Err(Error::new(
            ErrorKind::Authentication,
            "missing credentials: send the gateway access token as Authorization: Bearer",
        ));
    }
    crate::team::guard::authenticate(team, &secrets).await
}

/// `sha256:` + hex SHA-256 of the settings as JSON with sorted keys, no whitespace and no HTML
/// escaping (what Claude Code computes over the copy it holds).
pub fn checksum(settings: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(settings, &mut canonical);
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A stable UUID for a policy version (SHA-256 bits, version 8).
fn uuid_of(checksum: &str) -> String {
    let hash = Sha256::digest(checksum.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare too.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        // `*` (Claude Desktop's start-up probe) is answered as if absent: the protocol sends
        // 304 only for the checksum the client holds.
        .any(|tag| tag == etag || tag.trim_matches('"') == etag.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_over_sorted_compact_unescaped_json() {
        let settings = json!({"z": 1, "a": {"y": [true, null, "<&>"], "b": "é"}});
        let expected = r#"{"a":{"b":"é","y":[true,null,"<&>"]},"z":1}"#;
        let hex = hex::encode(Sha256::digest(expected.as_bytes()));
        assert_eq!(checksum(&settings), format!("sha256:{hex}"));
    }
}
