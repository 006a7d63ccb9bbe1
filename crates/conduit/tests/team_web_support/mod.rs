//! Shared by the `team_web*` tests: a team gateway over a temp SQLite store behind the real
//! router (`routes::router`, host guard included), and a cookie-keeping browser that talks to
//! it through `oneshot`, with the steps the tests share (command-line poll and connect, a
//! device code typed at `/device`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use conduit_store::Role;

use crate::team_support::{self, now, sha256_hex, Gateway, Setup};

pub mod idp;

pub const PORT: u16 = 8766;
pub const PASSWORD: &str = "correct horse battery";

/// A team gateway (`app`, `team`, `dir` … through `Deref`).
pub struct Gw(Gateway);

impl Deref for Gw {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.0
    }
}

impl Gw {
    /// A gateway (TLS or not, as cookies see it) with no identity provider.
    pub async fn new(tls: bool) -> Gw {
        Gw::with_idp(tls, None).await
    }

    /// A gateway whose environment names one identity provider (id `env`).
    pub async fn with_idp(tls: bool, env_idp: Option<conduit_store::NewIdp>) -> Gw {
        let (dir, store) = team_support::temp_store().await;
        let setup = Setup {
            env_idp,
            tls,
            port: PORT,
            ..Setup::default()
        };
        Gw(team_support::gateway(dir, store, setup).await)
    }

    /// A user with [`PASSWORD`]; its id.
    pub async fn user(&self, subject: &str, role: Role) -> String {
        team_support::user(&self.team.store, subject, role, Some(PASSWORD)).await
    }

    /// The audit actions, newest first.
    pub async fn audit(&self) -> Vec<String> {
        let rows = self.team.store.list_audit(500, None).await.unwrap();
        rows.into_iter().map(|e| e.action).collect()
    }

    /// A pending device code for `code` (8 letters, stored by its digest); its id.
    pub async fn device_code(&self, code: &str) -> String {
        let (device, user) = (sha256_hex(&format!("dev-{code}")), sha256_hex(code));
        let d = self
            .team
            .store
            .create_device_code(&device, &user, now() + 600, 5);
        d.await.unwrap().id
    }
}

/// A random command-line verifier and its challenge.
pub fn pair() -> (String, String) {
    let v = hex::encode(rand::random::<[u8; 32]>());
    let c = sha256_hex(&v);
    (v, c)
}

/// What the browser got back (`team_support`'s answer), read the way a browser reads a page.
pub use crate::team_support::Answer as Reply;

impl Reply {
    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        let all = self.headers.get_all("set-cookie");
        all.iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The `Set-Cookie` for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&prefix))
    }

    /// The value of a hidden field in the page (the first one).
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.text.find(&marker).expect(&self.text) + marker.len();
        let end = self.text[start..].find('"').unwrap();
        self.text[start..start + end].to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// A browser: keeps cookies, comes from one address.
pub struct Browser {
    pub cookies: HashMap<String, String>,
    pub ip: [u8; 4],
}

impl Browser {
    pub fn new(ip: [u8; 4]) -> Browser {
        Browser {
            cookies: HashMap::new(),
            ip,
        }
    }

    pub async fn get(&mut self, gw: &Gw, path: &str) -> Reply {
        self.send(gw, "GET", path, &[], Vec::new()).await
    }

    pub async fn post(&mut self, gw: &Gw, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let origin = [("origin", "http://127.0.0.1:8766")];
        let headers: Vec<(&str, &str)> = headers.into_iter().chain(origin).collect();
        self.send(gw, "POST", path, &headers, body.into_bytes())
            .await
    }

    pub async fn send(
        &mut self,
        gw: &Gw,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        gw.team.cache.sync_now(&gw.team.store).await.unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{PORT}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", jar.join("; "));
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((self.ip, 40000))));
        let reply = team_support::send(&gw.app, req).await;
        for c in reply.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        reply
    }

    /// Sign in at the portal with a password (the form's CSRF token included).
    pub async fn sign_in(&mut self, gw: &Gw, username: &str) -> Reply {
        let page = self.get(gw, "/portal").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let csrf = page.field("csrf");
        let form = [
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ];
        self.post(gw, "/portal/login", &form).await
    }

    /// `GET /auth/cli/poll` for `challenge` with `verifier` (as the command line polls): 200,
    /// not cached.
    pub async fn poll(&mut self, gw: &Gw, challenge: &str, verifier: &str) -> Reply {
        let path = format!("/auth/cli/poll?challenge={challenge}");
        let headers = [("x-conduit-cli-verifier", verifier)];
        let r = self.send(gw, "GET", &path, &headers, Vec::new()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.header("cache-control"), "no-store");
        r
    }

    /// Connect the command line from its confirm `page` (its session and CSRF token posted to
    /// `/auth/cli/complete`).
    pub async fn complete_cli(&mut self, gw: &Gw, page: &Reply) -> Reply {
        let (session, csrf) = (page.field("session"), page.field("csrf"));
        let form = [("session", session.as_str()), ("csrf", csrf.as_str())];
        self.post(gw, "/auth/cli/complete", &form).await
    }

    /// Type `user_code` at `/device` (the form's CSRF token from a fresh `GET /device`).
    pub async fn enter_code(&mut self, gw: &Gw, user_code: &str) -> Reply {
        let csrf = self.get(gw, "/device").await.field("csrf");
        let form = [("user_code", user_code), ("csrf", csrf.as_str())];
        self.post(gw, "/device", &form).await
    }
}
