//! A tiny identity provider on a loopback port for the `team_web*` tests: `oidc_support`'s IdP
//! (discovery, JWKS) with a token endpoint that checks the PKCE verifier, the redirect URI and
//! the client's authentication (its secret in the form, or with `basic_only` only by HTTP Basic,
//! refusing the form with `invalid_client` before it looks at the code, as oidc-provider does for
//! a client registered for `client_secret_basic`), then signs an EdDSA ID token with the
//! sign-in's nonce.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use conduit_store::{NewIdp, Role};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::oidc_support::{self, TestKey};
use crate::team_support::now;

pub const CLIENT: &str = "conduit-web";
pub const SECRET: &str = "s3cret";

/// What the IdP remembers of one sign-in at its authorize page.
pub struct Grant {
    sub: String,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

/// `oidc_support`'s IdP (discovery, the JWKS of one Ed25519 key `k1`; `issuer` through
/// `Deref`) with a token endpoint, and the sign-ins it remembers.
pub struct StubIdp {
    idp: oidc_support::StubIdp,
    pub grants: Arc<Mutex<HashMap<String, Grant>>>,
}

impl Deref for StubIdp {
    type Target = oidc_support::StubIdp;
    fn deref(&self) -> &oidc_support::StubIdp {
        &self.idp
    }
}

impl StubIdp {
    pub async fn start(basic_only: bool) -> StubIdp {
        let key = Arc::new(TestKey::ed("k1"));
        let grants: Arc<Mutex<HashMap<String, Grant>>> = Arc::default();
        let (g, signer) = (grants.clone(), key.clone());
        let token_route = move |issuer: &str| {
            let iss = issuer.to_owned();
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
                    let s256 =
                        URL_SAFE_NO_PAD.encode(Sha256::digest(f["code_verifier"].as_bytes()));
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
                let id_token = signer.sign(&claims);
                (
                    StatusCode::OK,
                    Json(json!({"id_token": id_token, "token_type": "Bearer"})),
                )
            };
            Router::new().route("/token", post(token))
        };
        let idp = oidc_support::StubIdp::start_with(&[&key], token_route).await;
        StubIdp { idp, grants }
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
