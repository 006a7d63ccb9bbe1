//! CountTokens: `POST /model/{foundation id}/count-tokens` with
//! `{"input":{"invokeModel":{"body":"<base64 of the InvokeModel body>"}}}` → `{"inputTokens": N}`.
//! Only bare foundation ids are accepted (a profile id is refused), so the count goes to the
//! model's foundation id; an application-profile ARN has none known here and is estimated.

use base64::Engine as _;
use conduit_core::{Error, ErrorKind};
use serde_json::{json, Map, Value};

/// The CountTokens body around an InvokeModel body.
pub fn wrap(invoke_body: &Map<String, Value>) -> Result<Vec<u8>, Error> {
    let inner = serde_json::to_vec(invoke_body)
        .map_err(|e| Error::internal(format!("cannot serialise the Bedrock body: {e}")))?;
    let body = base64::engine::general_purpose::STANDARD.encode(inner);
    serde_json::to_vec(&json!({"input": {"invokeModel": {"body": body}}}))
        .map_err(|e| Error::internal(format!("cannot serialise the CountTokens body: {e}")))
}

/// `inputTokens` of a CountTokens answer.
pub fn parse(answer: &[u8]) -> Result<u32, Error> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        input_tokens: u32,
    }
    serde_json::from_slice::<Answer>(answer)
        .map(|a| a.input_tokens)
        .map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("Bedrock's CountTokens answer has no inputTokens: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_parses() {
        let mut body = Map::new();
        body.insert("max_tokens".into(), 1.into());
        let wrapped: Value = serde_json::from_slice(&wrap(&body).unwrap()).unwrap();
        let inner = wrapped["input"]["invokeModel"]["body"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(inner)
            .unwrap();
        assert_eq!(decoded, br#"{"max_tokens":1}"#);
        assert_eq!(parse(br#"{"inputTokens": 42}"#).unwrap(), 42);
        assert_eq!(parse(b"{}").unwrap_err().kind, ErrorKind::UpstreamProtocol);
    }
}
