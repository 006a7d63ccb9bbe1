//! The browser sign-ins through an identity provider, against a tiny in-process IdP (discovery,
//! JWKS, a token endpoint that checks the PKCE verifier, the client secret and the redirect
//! URI, and signs an EdDSA ID token carrying the sign-in's nonce): the portal, `/device` and the
//! command line, then the refusals (another nonce, another browser) with nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod team_web_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conduit_store::{DeviceStatus, NewIdp, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use team_web_support::{sha, Browser, Gw};

const CLIENT: &str = "conduit-web";
const SECRET: &str = "s3cret";
const IP: [u8; 4] = [10, 7, 7, 7];

/// What the IdP remembers of one sign-in at its authorize page.
struct Grant {
    sub: String,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct StubIdp {
    issuer: String,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StubIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl StubIdp {
    async fn start() -> StubIdp {
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
        let token = move |body: axum::body::Bytes| async move {
            let f: HashMap<String, String> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            let grant = g.lock().unwrap().remove(&f["code"]);
            let ok = grant.as_ref().is_some_and(|gr| {
                let s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(f["code_verifier"].as_bytes()));
                f["grant_type"] == "authorization_code"
                    && s256 == gr.challenge
                    && f["redirect_uri"] == gr.redirect_uri
                    && f["client_id"] == CLIENT
                    && f.get("client_secret").map(String::as_str) == Some(SECRET)
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

    fn idp(&self) -> NewIdp {
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
    fn sign_in(&self, location: &str, sub: &str, nonce: Option<&str>) -> String {
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

async fn setup() -> (StubIdp, Gw) {
    let idp = StubIdp::start().await;
    let gw = Gw::with_idp(false, Some(idp.idp())).await;
    (idp, gw)
}

async fn user_id(gw: &Gw, idp: &StubIdp, sub: &str) -> Option<String> {
    let u = gw
        .team
        .store
        .user_by_identity(&idp.issuer, sub)
        .await
        .unwrap();
    u.map(|u| u.id)
}

#[tokio::test]
async fn portal_sign_in_at_the_idp_provisions_and_sets_the_cookie() {
    let (idp, gw) = setup().await;
    let mut b = Browser::new(IP);
    let page = b.get(&gw, "/portal").await;
    assert!(page
        .text
        .contains("<a href=\"/portal/sso/env\">Sign in with Stub</a>"));
    let csp = page.header("content-security-policy").to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", idp.issuer)),
        "{csp}"
    );
    let r = b.get(&gw, "/portal/sso/env").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let callback = idp.sign_in(r.header("location"), "alice", None);
    let r = b.get(&gw, &callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(r
        .set_cookie("conduit_session")
        .unwrap()
        .contains("HttpOnly"));
    let page = b.get(&gw, "/portal").await;
    assert!(page.text.contains("alice@example.com") && page.text.contains("(member)"));
    assert!(user_id(&gw, &idp, "alice").await.is_some());
    let again = b.get(&gw, &callback).await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "a state is taken once"
    );
}

#[tokio::test]
async fn refused_callbacks_store_nothing() {
    let (idp, gw) = setup().await;
    // Cases: the ID token carries another nonce; the callback reaches another browser.
    for (nonce, other_browser) in [(Some("not-the-nonce"), false), (None, true)] {
        let mut b = Browser::new(IP);
        let r = b.get(&gw, "/portal/sso/env").await;
        let callback = idp.sign_in(r.header("location"), "mallory", nonce);
        let mut elsewhere = Browser::new(IP);
        let at = if other_browser {
            &mut elsewhere
        } else {
            &mut b
        };
        let r = at.get(&gw, &callback).await;
        assert!(
            r.status.is_client_error(),
            "{nonce:?}: {} {}",
            r.status,
            r.text
        );
        if other_browser {
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert_eq!(
                idp.grants.lock().unwrap().len(),
                1,
                "the code was never exchanged"
            );
            idp.grants.lock().unwrap().clear();
        }
        assert!(r.set_cookie("conduit_session").is_none());
        assert_eq!(
            user_id(&gw, &idp, "mallory").await,
            None,
            "nobody provisioned"
        );
    }
}

#[tokio::test]
async fn device_code_approved_by_the_person_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let (device, code) = (sha("device-secret"), sha("BCDFGHJK"));
    let created = gw
        .team
        .store
        .create_device_code(&device, &code, now() + 600, 5);
    let id = created.await.unwrap().id;
    let mut b = Browser::new(IP);
    let csrf = b.get(&gw, "/device").await.field("csrf");
    let r = b
        .post(
            &gw,
            "/device",
            &[("user_code", "bcdf-ghjk"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "one IdP: straight there; {}",
        r.text
    );
    let callback = idp.sign_in(r.header("location"), "bob", None);
    let confirm = b.get(&gw, &callback).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert_eq!(confirm.field("device"), id);
    let form = [
        ("device", id.as_str()),
        ("decision", "approve"),
        ("csrf", &confirm.field("csrf")),
    ];
    let done = b.post(&gw, "/device/decide", &form).await;
    assert!(done.text.contains("Device approved"), "{}", done.text);
    let row = gw
        .team
        .store
        .device_by_user_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, DeviceStatus::Approved);
    assert_eq!(row.user_id, user_id(&gw, &idp, "bob").await);
}

#[tokio::test]
async fn command_line_signed_in_at_the_idp() {
    let (idp, gw) = setup().await;
    let verifier = hex::encode(rand::random::<[u8; 32]>());
    let challenge = sha(&verifier);
    let mut b = Browser::new(IP);
    let r = b
        .get(&gw, &format!("/auth/cli/login?challenge={challenge}"))
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let confirm = b
        .get(&gw, &idp.sign_in(r.header("location"), "carol", None))
        .await;
    assert!(
        confirm.text.contains(">Connect</button>"),
        "{}",
        confirm.text
    );
    let form = [
        ("session", confirm.field("session")),
        ("csrf", confirm.field("csrf")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post(&gw, "/auth/cli/complete", &form).await;
    assert!(
        done.text.contains("Command line connected"),
        "{}",
        done.text
    );
    let path = format!("/auth/cli/poll?challenge={challenge}");
    let headers = [("x-conduit-cli-verifier", verifier.as_str())];
    let poll: Value = b.send(&gw, "GET", &path, &headers, Vec::new()).await.json();
    assert_eq!(poll["status"], "complete", "{poll}");
    let principal = gw
        .team
        .cache
        .authenticate(poll["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(principal.user_id, user_id(&gw, &idp, "carol").await);
}
