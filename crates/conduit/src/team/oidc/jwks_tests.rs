//! Which JWKS entries become keys, and which algorithms they fit.
#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

#[test]
fn only_signing_keys_of_allowed_kinds_are_kept() {
    let okp =
        json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    // The Ed25519 key above with one more field.
    let with = |k: &str, v: &str| {
        let mut jwk = okp.clone();
        jwk[k] = json!(v);
        jwk
    };
    let ed = with("kid", "ed");
    let cases = [
        (ed.clone(), true),
        (with("use", "enc"), false),
        (json!({"kty":"oct","k":"c2VjcmV0","kid":"hmac"}), false),
        (with("alg", "HS256"), false),
        (with("alg", "RS256"), false),
        (
            json!({"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RSA-OAEP"}),
            false,
        ),
        (
            json!({"kty":"EC","crv":"P-521","x":"AQAB","y":"AQAB"}),
            false,
        ),
        (json!({"nonsense":true}), false),
    ];
    for (jwk, kept) in cases {
        assert_eq!(parse_key(jwk.clone()).is_some(), kept, "{jwk}");
    }
    let key = parse_key(ed).unwrap();
    assert!(key.fits(Algorithm::EdDSA));
    assert!(!key.fits(Algorithm::RS256));
    assert!(!key.fits(Algorithm::HS256));
}
