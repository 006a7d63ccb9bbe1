//! A tiny OpenID provider for `conduit token login --issuer … --client-id …`: `oidc_support`'s
//! (discovery, JWKS) with a public client: `/auth` approves at once (a person who is signed in
//! there already) and sends the browser to the loopback redirect with a code; `/token` checks the
//! PKCE verifier, the redirect URI and the client id, and answers an EdDSA ID token (with the
//! sign-in's nonce) and a refresh token, rotated on each refresh.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::oidc_support::{self, TestKey};
use crate::team_support::now;

pub const CLIENT: &str = "conduit-cli-idp";
pub const SUBJECT: &str = "alice";

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Grant>,
    refresh: Vec<String>,
    /// Every authorization request's query.
    pub asked: Vec<HashMap<String, String>>,
}

pub struct Idp {
    pub stub: oidc_support::StubIdp,
    state: Arc<Mutex<State>>,
    pub refreshes: Arc<AtomicUsize>,
}

impl Idp {
    pub async fn start() -> Idp {
        let key = Arc::new(TestKey::ed("k1"));
        let state: Arc<Mutex<State>> = Arc::default();
        let refreshes = Arc::new(AtomicUsize::new(0));
        let (s, r) = (state.clone(), refreshes.clone());
        let routes = move |issuer: &str| {
            let iss = issuer.to_owned();
            let s2 = s.clone();
            let authorize = move |Query(q): Query<HashMap<String, String>>| async move {
                let code = hex::encode(rand::random::<[u8; 16]>());
                let grant = Grant {
                    nonce: q.get("nonce").cloned().unwrap_or_default(),
                    challenge: q["code_challenge"].clone(),
                    redirect_uri: q["redirect_uri"].clone(),
                };
                let to = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
                let mut st = s2.lock().unwrap();
                st.codes.insert(code, grant);
                st.asked.push(q);
                Redirect::to(&to)
            };
            let token = move |body: axum::body::Bytes| async move {
                let f: HashMap<String, String> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                let bad = |e: &str| -> Response {
                    (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response()
                };
                if f.get("client_id").map(String::as_str) != Some(CLIENT) {
                    return bad("invalid_client");
                }
                let mut st = s.lock().unwrap();
                let nonce = match f.get("grant_type").map(String::as_str) {
                    Some("authorization_code") => {
                        let Some(g) = st.codes.remove(&f["code"]) else {
                            return bad("invalid_grant");
                        };
                        let s256 =
                            URL_SAFE_NO_PAD.encode(Sha256::digest(f["code_verifier"].as_bytes()));
                        if s256 != g.challenge || f["redirect_uri"] != g.redirect_uri {
                            return bad("invalid_grant");
                        }
                        Some(g.nonce)
                    }
                    Some("refresh_token") => {
                        r.fetch_add(1, Ordering::SeqCst);
                        let Some(i) = st.refresh.iter().position(|t| *t == f["refresh_token"])
                        else {
                            return bad("invalid_grant");
                        };
                        st.refresh.remove(i);
                        None
                    }
                    _ => return bad("unsupported_grant_type"),
                };
                let mut claims = json!({"iss": iss, "sub": SUBJECT, "aud": CLIENT, "iat": now(),
                    "exp": now() + 600, "email": "alice@idp.example"});
                if let Some(n) = nonce {
                    claims["nonce"] = json!(n);
                }
                let refresh = hex::encode(rand::random::<[u8; 16]>());
                st.refresh.push(refresh.clone());
                Json(json!({
                    "access_token": "an-idp-access-token", "token_type": "Bearer",
                    "expires_in": 3600, "id_token": key.sign(&claims), "refresh_token": refresh,
                }))
                .into_response()
            };
            Router::new()
                .route("/auth", get(authorize))
                .route("/token", post(token))
        };
        let stub = oidc_support::StubIdp::start_with(&[], routes).await;
        Idp {
            stub,
            state,
            refreshes,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.stub.issuer
    }

    /// The authorization requests' queries so far.
    pub fn asked(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().asked.clone()
    }
}
