//! What a signed-in Claude Code does with its tokens: `/v1/messages` (streamed) with the access
//! token, refused once expired or forged; the managed-settings push (200, 304, 404, checksum)
//! and its admin API; the OTLP sinks.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};

use crate::support::{env, now, sha256_hex, Env};

/// A token like the gateway's, with these claim changes, signed with the gateway's newest key
/// or a stranger's key under the same `kid`.
async fn forged(env: &Env, changes: Value, foreign_key: bool) -> String {
    let keys = env.store.signing_keys(now()).await.unwrap();
    let key = &keys[0];
    let mut claims = json!({"iss": "conduit", "aud": "conduit", "sub": env.users["member"],
        "fid": "family", "scope": "claude-code", "iat": now(), "nbf": now(),
        "exp": now() + 600, "jti": "j"});
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let pkcs8 = if foreign_key {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        doc.as_ref().to_vec()
    } else {
        key.private_pkcs8.clone()
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap()
}

fn messages(token: &str) -> Request<Body> {
    let body = json!({"model": "claude-x", "max_tokens": 16, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    Request::post("/v1/messages?beta=true")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_access_token_streams_messages_until_it_expires_and_forgeries_are_refused() {
    let env = env().await;
    let (access, _) = env.sign_in("member").await;
    let a = env.send(messages(&access)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(a.text.contains("message_stop"), "{}", a.text);
    // Our own claims, re-signed with our key, are accepted: the forgeries below differ in one way.
    let same = forged(&env, json!({}), false).await;
    assert_eq!(env.send(messages(&same)).await.status, StatusCode::OK);

    let cases = [
        (
            "expired",
            json!({"exp": now() - 120, "nbf": now() - 900}),
            false,
        ),
        (
            "not yet valid",
            json!({"nbf": now() + 600, "exp": now() + 1200}),
            false,
        ),
        ("another audience", json!({"aud": "someone-else"}), false),
        (
            "another issuer",
            json!({"iss": "https://idp.example"}),
            false,
        ),
        ("another scope", json!({"scope": "admin"}), false),
        ("a stranger's key under our kid", json!({}), true),
    ];
    for (name, changes, foreign) in cases {
        let token = forged(&env, changes, foreign).await;
        let a = env.send(messages(&token)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        assert_eq!(a.headers["x-should-retry"], "false", "{name}");
        assert_eq!(a.json["error"]["type"], "authentication_error", "{name}");
    }
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        env.send(messages(&tampered)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// `{"permissions":…,"env":…}` in its canonical form: sorted keys, no whitespace, `<&>` and
/// non-ASCII as they are.
const SETTINGS: &str = r#"{"z":1,"permissions":{"deny":["WebFetch"]},"env":{"B":"<x>&","A":"é"}}"#;
const CANONICAL: &str = r#"{"env":{"A":"é","B":"<x>&"},"permissions":{"deny":["WebFetch"]},"z":1}"#;

async fn admin(env: &Env, method: &str, who: &str, body: &str) -> crate::support::Answer {
    let mut request = Request::builder()
        .method(method)
        .uri("/admin/managed-settings")
        .header("content-type", "application/json");
    if let Some(secret) = env.secrets.get(who) {
        request = request.header("authorization", format!("Bearer {secret}"));
    } else if who != "none" {
        request = request.header("authorization", format!("Bearer {who}"));
    }
    env.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn managed_settings_are_served_with_a_checksum_etag_and_304() {
    let env = env().await;
    let (access, _) = env.sign_in("member").await;
    let bearer = format!("Bearer {access}");
    let none = env
        .get("/managed/settings", &[("authorization", &bearer)])
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "no policy yet");

    let put = admin(&env, "PUT", "admin_session", SETTINGS).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let checksum = format!("sha256:{}", sha256_hex(CANONICAL));
    assert_eq!(put.json["checksum"], checksum.as_str());

    // Any credential /v1 accepts reads it; nothing else does.
    let key = format!("Bearer {}", env.secrets["member_key"]);
    let session = env.secrets["member_session"].clone();
    let readers: [(&str, &str, u16); 5] = [
        ("authorization", &bearer, 200),
        ("authorization", &key, 200),
        ("x-api-key", &session, 200),
        ("authorization", "Bearer junk.junk.junk", 401),
        ("x-other", "nothing", 401),
    ];
    for (header, value, status) in readers {
        let a = env.get("/managed/settings", &[(header, value)]).await;
        assert_eq!(a.status.as_u16(), status, "{header}: {}", a.text);
        if status == 401 {
            assert_eq!(a.headers["x-should-retry"], "false");
        }
    }

    let a = env
        .get("/managed/settings", &[("authorization", &bearer)])
        .await;
    assert_eq!(a.json["checksum"], checksum.as_str());
    assert_eq!(
        a.json["settings"],
        serde_json::from_str::<Value>(SETTINGS).unwrap()
    );
    assert!(a.json["uuid"].as_str().is_some_and(|u| u.len() == 36));
    let etag = format!("\"{checksum}\"");
    assert_eq!(a.headers["etag"], etag.as_str());
    let conditional: [(&str, u16); 4] = [
        (&etag, 304),
        ("W/\"sha256:0000\", \"other\"", 200),
        ("\"sha256:0000\"", 200),
        ("*", 200),
    ];
    for (tag, status) in conditional {
        let headers = [("authorization", bearer.as_str()), ("if-none-match", tag)];
        let b = env.get("/managed/settings", &headers).await;
        assert_eq!(b.status.as_u16(), status, "{tag}");
        assert_eq!(b.headers["etag"], etag.as_str());
    }

    // Deleted: 404 again, distinct from an empty policy.
    assert_eq!(
        admin(&env, "DELETE", "admin_session", "").await.status,
        StatusCode::NO_CONTENT
    );
    let gone = env
        .get("/managed/settings", &[("authorization", &bearer)])
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin(&env, "PUT", "admin_session", "{}").await.status,
        StatusCode::OK
    );
    let empty = env
        .get("/managed/settings", &[("authorization", &bearer)])
        .await;
    assert_eq!(
        (empty.status, &empty.json["settings"]),
        (StatusCode::OK, &json!({}))
    );
}

#[tokio::test]
async fn the_managed_settings_admin_api_checks_roles_and_bodies() {
    let env = env().await;
    let (access, _) = env.sign_in("admin").await;
    let cases: &[(&str, &str, &str, u16)] = &[
        ("GET", "admin_session", "", 404),
        ("PUT", "admin_session", r#"{"env":{"A":"1"}}"#, 200),
        ("GET", "admin_session", "", 200),
        ("GET", "auditor_session", "", 200),
        ("GET", "member_session", "", 403),
        ("PUT", "auditor_session", "{}", 403),
        ("PUT", "member_session", "{}", 403),
        ("PUT", "member_key", "{}", 401),
        ("PUT", &access, "{}", 401),
        ("PUT", "none", "{}", 401),
        ("PUT", "admin_session", "[1,2]", 400),
        ("PUT", "admin_session", "not json", 400),
        ("DELETE", "member_session", "", 403),
        ("DELETE", "admin_session", "", 204),
        ("GET", "auditor_session", "", 404),
    ];
    for (method, who, body, status) in cases {
        let a = admin(&env, method, who, body).await;
        assert_eq!(
            a.status.as_u16(),
            *status,
            "{method} as {who} {body}: {}",
            a.text
        );
    }
}

#[tokio::test]
async fn otlp_exports_are_accepted_and_discarded_behind_the_guard() {
    let env = env().await;
    let (access, _) = env.sign_in("member").await;
    for path in ["/v1/metrics", "/v1/logs", "/v1/traces"] {
        for (token, status) in [(Some(access.as_str()), 200), (None, 401)] {
            let mut request = Request::post(path).header("content-type", "application/x-protobuf");
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let a = env
                .send(request.body(Body::from(vec![7u8; 10_000])).unwrap())
                .await;
            assert_eq!(a.status.as_u16(), status, "{path}: {}", a.text);
            if status == 200 {
                assert_eq!(a.json, json!({}));
            }
        }
    }
}
