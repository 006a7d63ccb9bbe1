//! A team gateway for the OIDC tests (built by `team_support`): an admin and a member with
//! session tokens, an optional environment IdP and a chosen JWKS cool-down; and the `/v1` calls
//! the tests make through it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::StubIdp;
use crate::team_support::{self, Setup};
use axum::body::Body;
use axum::http::Request;
use conduit_store::{NewIdp, Role, User};
use serde_json::{json, Value};

use crate::team_support::session;

const PORT: u16 = 8766;
pub const AUD: &str = "api://conduit";
pub const DOMAIN: &str = "corp.example";

/// The gateway and the session tokens of an admin and a member.
pub struct Gw {
    pub gateway: team_support::Gateway,
    pub admin: String,
    pub member: String,
}

impl std::ops::Deref for Gw {
    type Target = team_support::Gateway;
    fn deref(&self) -> &team_support::Gateway {
        &self.gateway
    }
}

pub fn env_idp(idp: &StubIdp, auto_provision: bool, role: Role) -> NewIdp {
    NewIdp {
        name: "sso".into(),
        issuer_url: idp.issuer.clone(),
        audience: AUD.into(),
        client_id: Some("conduit-web".into()),
        client_secret: Some("web-secret".into()),
        auto_provision,
        default_role: role,
        allowed_domains: vec![DOMAIN.into()],
        scopes: None,
        enabled: true,
    }
}

pub async fn gateway(env: Option<NewIdp>, cooldown: Option<Duration>) -> Gw {
    let (dir, store) = team_support::temp_store().await;
    let admin = session(&store, "admin", Role::Admin).await;
    let member = session(&store, "member", Role::Member).await;
    let setup = Setup {
        env_idp: env,
        cooldown,
        port: PORT,
        ..Setup::default()
    };
    let gateway = team_support::gateway(dir, store, setup).await;
    Gw {
        gateway,
        admin,
        member,
    }
}

/// What a `/v1` call got back.
pub use crate::team_support::Answer as Reply;

impl team_support::Gateway {
    /// The user `idp` knows as `sub`, if there is one.
    pub async fn user_of(&self, idp: &StubIdp, sub: &str) -> Option<User> {
        let store = &self.team.store;
        store.user_by_identity(&idp.issuer, sub).await.unwrap()
    }
}

pub async fn call(gw: &Gw, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{PORT}"))
        .header("authorization", format!("Bearer {token}"))
        .header("anthropic-version", "2023-06-01");
    if body.is_some() {
        r = r.header("content-type", "application/json");
    }
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    team_support::send(&gw.app, r.body(body).unwrap()).await
}

pub async fn messages(gw: &Gw, token: &str) -> Reply {
    let body = json!({"model": "claude-x", "max_tokens": 16,
                      "messages": [{"role": "user", "content": "hi"}]});
    call(gw, "POST", "/v1/messages", token, Some(body)).await
}

pub fn assert_refused(r: &Reply, status: u16, what: &str, token: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.json);
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        _ => "api_error",
    };
    assert_eq!(r.json["error"]["type"], kind, "{what}: {}", r.json);
    let retry = r.headers.get("x-should-retry").map(|v| v.to_str().unwrap());
    assert_eq!(retry, (status == 401).then_some("false"), "{what}");
    assert!(
        !r.json.to_string().contains(token),
        "{what}: the token echoed"
    );
}
