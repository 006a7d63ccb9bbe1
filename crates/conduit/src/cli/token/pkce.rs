//! PKCE (RFC 7636, S256) and the `state` of an authorization request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A new sign-in's secrets: the verifier stays here, its challenge goes to the browser.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
    pub state: String,
}

impl Pkce {
    pub fn generate() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        Self {
            challenge: challenge(&verifier),
            verifier,
            state: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        }
    }
}

/// `base64url(SHA-256(verifier))`, no padding.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_and_challenge_are_43_base64url_chars_and_fresh() {
        let (a, b) = (Pkce::generate(), Pkce::generate());
        for s in [&a.verifier, &a.challenge] {
            assert_eq!(s.len(), 43, "{s}");
            assert!(s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        }
        assert_eq!(a.challenge, challenge(&a.verifier));
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.state, b.state);
    }
}
