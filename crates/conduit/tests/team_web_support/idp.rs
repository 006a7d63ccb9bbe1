//! A tiny identity provider on a loopback port for the `team_web*` tests: discovery, JWKS, and a
//! token endpoint that checks the PKCE verifier, the redirect URI and the client's
//! authentication (its secret in the form, or with `basic_only` only by HTTP Basic, refusing
//! the form with `invalid_client` before it looks at the code, as oidc-provider does for a client
//! registered for `client_secret_basic`), then signs an EdDSA ID token with the sign-in's nonce.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use conduit_store::{NewIdp, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT: &str = "conduit-web";
pub const SECRET: &str = "s3cret";

/// What the IdP remembers of one sign-in at its authorize page.
pub struct Grant {
    sub: String,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

pub struct StubIdp {
    pub issuer: String,
    pub grants: Arc<Mutex<HashMap<String, Grant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StubIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl StubIdp {
    pub async fn start(basic_only: bool) -> StubIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x}]});
        let key = Arc::new(EncodingKey::from_ed_der(pkcs8.as_ref()));
        let doc = json!({
            "issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
        });
        let grants: Arc<Mutex<HashMap<String, Grant>>> = Arc::default();
        let (g, iss) = (grants.clone(), issuer.clone());
        let token = move |headers: HeaderMap, body: axum::body::Bytes| async move {
            let f: HashMap<String, String> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT}:{SECRET}")));
            let by_header = headers
                .get("authorization")
                .is_some_and(|h| h == basic.as_str());
            let by_form = f.get("client_secret").map(String::as_str) == Some(SECRET);
            let client_ok = if basic_only {
                by_header && !by_form
            } else {
                by_form
            };
            if !client_ok || f["client_id"] != CLIENT {
                let answer = Json(json!({"error": "invalid_client"}));
                return (StatusCode::UNAUTHORIZED, answer);
            }
            let grant = g.lock().unwrap().remove(&f["code"]);
            let ok = grant.as_ref().is_some_and(|gr| {
                let s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(f["code_verifier"].as_bytes()));
                f["grant_type"] == "authorization_code"
                    && s256 == gr.challenge
                    && f["redirect_uri"] == gr.redirect_uri
            });
            let Some(gr) = grant.filter(|_| ok) else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                );
            };
            let claims = json!({"iss": iss, "sub": gr.sub, "aud": CLIENT, "iat": now(),
                "nbf": now(), "exp": now() + 300, "nonce": gr.nonce,
                "email": format!("{}@example.com", gr.sub), "email_verified": true});
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some("k1".into());
            let id_token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            (
                StatusCode::OK,
                Json(json!({"id_token": id_token, "token_type": "Bearer"})),
            )
        };
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(doc) }),
            )
            .route("/jwks", get(move || async move { Json(jwks) }))
            .route("/token", post(token));
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StubIdp {
            issuer,
            grants,
            task,
        }
    }

    pub fn idp(&self) -> NewIdp {
        NewIdp {
            name: "Stub".into(),
            issuer_url: self.issuer.clone(),
            audience: CLIENT.into(),
            client_id: Some(CLIENT.into()),
            client_secret: Some(SECRET.into()),
            auto_provision: true,
            default_role: Role::Member,
            allowed_domains: vec![],
            scopes: None,
            enabled: true,
        }
    }

    /// The person `sub` signs in at the authorize URL `location`; the callback path to follow.
    /// `nonce` replaces the sign-in's nonce in the ID token when given.
    pub fn sign_in(&self, location: &str, sub: &str, nonce: Option<&str>) -> String {
        let url = url::Url::parse(location).unwrap();
        assert!(
            location.starts_with(&format!("{}/auth?", self.issuer)),
            "{location}"
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let want = [
            ("response_type", "code"),
            ("response_mode", "query"),
            ("client_id", CLIENT),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "http://127.0.0.1:8766/oauth/callback"),
            ("scope", "openid email profile"),
        ];
        for (k, v) in want {
            assert_eq!(q[k], v, "{k}");
        }
        let code = hex::encode(rand::random::<[u8; 16]>());
        let grant = Grant {
            sub: sub.into(),
            nonce: nonce.map_or_else(|| q["nonce"].clone(), str::to_owned),
            challenge: q["code_challenge"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        };
        self.grants.lock().unwrap().insert(code.clone(), grant);
        format!("/oauth/callback?code={code}&state={}", q["state"])
    }
}
