//! Native reasoning (spec §9.4, §9.5): `reasoningContentEvent` frames with a signature the sim
//! can verify (an HMAC-SHA256 over the reasoning text under a per-sim key), redacted reasoning,
//! and the checks on reasoning replayed in history.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::errors;
use crate::frames::{self, FrameError};
use crate::model::HttpError;

const NONCE_LEN: usize = 24;
const MAC_LEN: usize = 32;
const BLOCK: usize = 64;

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest = Sha256::digest(key);
        k[..MAC_LEN].copy_from_slice(&digest);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The signature of a reasoning text: base64(nonce ‖ HMAC(key, nonce ‖ text)).
pub(crate) fn sign(key: &[u8; 32], text: &str) -> String {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mac = hmac_sha256(key, &[&nonce, text.as_bytes()]);
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&mac);
    B64.encode(raw)
}

/// Whether `signature` is one the sim issued for exactly this text.
pub(crate) fn verify(key: &[u8; 32], text: &str, signature: &str) -> bool {
    let Ok(raw) = B64.decode(signature) else {
        return false;
    };
    if raw.len() != NONCE_LEN + MAC_LEN {
        return false;
    }
    let (nonce, mac) = raw.split_at(NONCE_LEN);
    let want = hmac_sha256(key, &[nonce, text.as_bytes()]);
    // Constant-time enough for a test double: compare every byte.
    want.iter().zip(mac).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Split into `parts` near-equal pieces (at least one, none empty unless `s` is).
pub(crate) fn split_parts(s: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let parts = parts.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(parts).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Frames of one reasoning block: `{"text"}` pieces (of `chunk` chars, else three pieces),
/// then, when signed, the signature in at least two `{"signature"}` fragments.
pub(crate) fn block_frames(
    key: &[u8; 32],
    text: &str,
    chunk: Option<usize>,
    signed: bool,
) -> Result<Vec<bytes::Bytes>, FrameError> {
    let pieces = match chunk {
        Some(n) if n > 0 => {
            let chars: Vec<char> = text.chars().collect();
            chars.chunks(n).map(|c| c.iter().collect()).collect()
        }
        _ => split_parts(text, 3),
    };
    let mut out = Vec::new();
    for p in pieces {
        out.push(frames::event(
            "reasoningContentEvent",
            &json!({ "text": p }),
        )?);
    }
    if signed {
        for f in split_parts(&sign(key, text), 3) {
            out.push(frames::event(
                "reasoningContentEvent",
                &json!({ "signature": f }),
            )?);
        }
    }
    Ok(out)
}

/// A fresh `redactedContent` value (base64 of random bytes).
pub(crate) fn new_redacted() -> String {
    let raw: [u8; 48] = rand::random();
    B64.encode(raw)
}

/// The frame carrying redacted reasoning.
pub(crate) fn redacted_frame(value: &str) -> Result<bytes::Bytes, FrameError> {
    frames::event(
        "reasoningContentEvent",
        &json!({ "redactedContent": value }),
    )
}

/// Check the reasoning replayed on history assistant turns (spec §9.4): nested
/// `reasoningContent.reasoningText{text, signature}` that verifies, or a `redactedContent` the
/// sim issued. The flat form, a sibling `reasoningSignature` or a missing signature →
/// REQUEST_BODY_INVALID; a signature that does not verify → THINKING_SIGNATURE_INVALID.
pub(crate) fn check_history(
    body: &Value,
    key: &[u8; 32],
    issued_redacted: &std::collections::HashSet<String>,
) -> Result<(), HttpError> {
    let history = body
        .get("conversationState")
        .and_then(|s| s.get("history"))
        .and_then(Value::as_array);
    for entry in history.into_iter().flatten() {
        let Some(a) = entry.get("assistantResponseMessage") else {
            continue;
        };
        if a.get("reasoningSignature").is_some() {
            return Err(errors::request_body_invalid());
        }
        match a.get("reasoningContent") {
            None | Some(Value::Null) => {}
            Some(Value::Object(rc)) => check_content(rc, key, issued_redacted)?,
            Some(_) => return Err(errors::request_body_invalid()),
        }
    }
    Ok(())
}

fn check_content(
    rc: &serde_json::Map<String, Value>,
    key: &[u8; 32],
    issued_redacted: &std::collections::HashSet<String>,
) -> Result<(), HttpError> {
    let bad = errors::request_body_invalid;
    match (rc.get("reasoningText"), rc.get("redactedContent")) {
        (Some(t), None) => {
            let text = t.get("text").and_then(Value::as_str).ok_or_else(bad)?;
            let sig = t.get("signature").and_then(Value::as_str).ok_or_else(bad)?;
            if verify(key, text, sig) {
                Ok(())
            } else {
                Err(errors::thinking_signature_invalid())
            }
        }
        (None, Some(Value::String(r))) if issued_redacted.contains(r) => Ok(()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_verify_only_for_their_text() {
        let key = [7u8; 32];
        let sig = sign(&key, "I think.");
        assert!(verify(&key, "I think.", &sig));
        assert!(!verify(&key, "I think!", &sig));
        assert!(!verify(&[8u8; 32], "I think.", &sig));
        assert!(!verify(&key, "I think.", &sig[..sig.len() - 4]));
    }
}
