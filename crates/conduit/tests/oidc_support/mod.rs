//! Test support for the OIDC tier: signing keys (RSA from the committed test-only PEMs in this
//! directory, P-256 and Ed25519 made with ring at test time), tokens signed with jsonwebtoken,
//! and an in-process IdP (axum on 127.0.0.1:0) serving a real discovery document and a JWKS
//! whose fetches it counts, with a short delay so that concurrent callers really overlap.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use serde_json::{json, Value};

pub mod gateway;

pub use crate::team_support::now;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
    /// The public key's bytes (what a forger keys HS256 with).
    pub public: Vec<u8>,
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

impl TestKey {
    /// One of the committed RSA keys (1 or 2); the JWK names `alg` unless `bare`.
    pub fn rsa(which: u8, kid: &str, alg: Algorithm, bare: bool) -> TestKey {
        let pem = match which {
            1 => include_str!("rsa1.pem"),
            _ => include_str!("rsa2.pem"),
        };
        let der = pem_der(pem);
        let pair = signature::RsaKeyPair::from_der(&der).unwrap();
        let parts = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let mut jwk =
            json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64(&parts.n), "e": b64(&parts.e)});
        if !bare {
            jwk["alg"] = json!(format!("{alg:?}"));
        }
        TestKey {
            kid: kid.into(),
            alg,
            encoding: EncodingKey::from_rsa_der(&der),
            jwk,
            public: pair.public().as_ref().to_vec(),
        }
    }

    /// A fresh P-256 key (ES256).
    pub fn ec(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
                         "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        TestKey {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
            public: point,
        }
    }

    /// A fresh Ed25519 key (EdDSA), its JWK without `alg`.
    pub fn ed(kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&public)});
        TestKey {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk,
            public,
        }
    }

    /// `claims` signed with this key, the header naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg, &self.kid, claims)
    }

    /// Signed with this key under another header `alg` (same family) or `kid`.
    pub fn sign_as(&self, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// HS256 keyed with this key's public bytes (the classic algorithm-confusion forgery).
    pub fn forge_hs256(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&self.public)).unwrap()
    }
}

/// `alg: none`, no signature.
pub fn forge_none(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// An IdP on a loopback port: discovery, a JWKS (fetches counted), and whatever routes
/// [`StubIdp::start_with`] adds.
pub struct StubIdp {
    pub issuer: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StubIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StubIdp {
    pub async fn start(keys: &[&TestKey]) -> StubIdp {
        StubIdp::start_with(keys, |_| Router::new()).await
    }

    /// Also serving the routes `extra` makes, given the issuer URL (a token endpoint …).
    pub async fn start_with(keys: &[&TestKey], extra: impl FnOnce(&str) -> Router) -> StubIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let jwks: Arc<Mutex<Vec<Value>>> =
            Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let doc = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
        });
        let (set, count) = (jwks.clone(), fetches.clone());
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(doc) }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let keys = set.lock().unwrap().clone();
                    Json(json!({ "keys": keys }))
                }),
            )
            .merge(extra(&issuer));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        StubIdp {
            issuer,
            jwks,
            fetches,
            task,
        }
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Publish one more key (a rotation).
    pub fn publish(&self, key: &TestKey) {
        self.jwks.lock().unwrap().push(key.jwk.clone());
    }

    /// Valid claims for `sub` from this IdP for `aud`, e-mail `<sub>@<domain>`, verified.
    pub fn claims(&self, sub: &str, aud: &str, domain: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "nbf": now,
               "exp": now + 600, "email": format!("{sub}@{domain}"), "email_verified": true})
    }
}

pub struct Keys {
    pub rs: TestKey,
    /// An RSA key whose JWK names no `alg` (any RS*/PS* fits).
    pub bare: TestKey,
    pub es: TestKey,
    pub ed: TestKey,
}

/// An RS256 key (JWK with `alg`), a bare RSA key used with PS256, P-256, Ed25519.
pub fn keys() -> Keys {
    Keys {
        rs: TestKey::rsa(1, "rs-1", Algorithm::RS256, false),
        bare: TestKey::rsa(2, "rsa-bare", Algorithm::PS256, true),
        es: TestKey::ec("ec-1"),
        ed: TestKey::ed("ed-1"),
    }
}

/// `claims` with `key` set to `value` (removed when `value` is null).
pub fn set(mut claims: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

/// Valid claims for `sub` at the gateway's audience and domain.
pub fn good(idp: &StubIdp, sub: &str) -> Value {
    idp.claims(sub, gateway::AUD, gateway::DOMAIN)
}
