//! The browser's two cookies and what hangs off them. `conduit_flow` (random 32 bytes, hex)
//! binds a sign-in to the browser that started it: flows and CLI sessions store its SHA-256,
//! and the callback and every confirming POST require it. `conduit_session` holds a portal
//! session credential. Form CSRF tokens are `hex(SHA-256("csrf:" + cookie value))`.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use conduit_core::{Error, ErrorKind};
use subtle::ConstantTimeEq;

use crate::state::TeamState;
use crate::team::wire::digest;
use crate::team::{Principal, PrincipalKind};

/// The browser binding cookie.
pub const FLOW: &str = "conduit_flow";
/// The portal session cookie.
pub const SESSION: &str = "conduit_session";
/// How long a binding lives, in seconds (a flow's lifetime).
pub const FLOW_MAX_AGE: i64 = 600;

/// The CSRF token forms carry for a cookie value.
pub fn csrf_for(cookie_value: &str) -> String {
    digest(&format!("csrf:{cookie_value}"))
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` (the first one sent).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure under TLS.
pub fn set(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// A `Set-Cookie` value that removes cookie `name`.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}

/// What the browser presented, and the cookie to set should it need a binding.
pub struct Browser {
    flow: Option<String>,
    session: Option<String>,
    secure: bool,
}

impl Browser {
    pub fn new(team: &TeamState, headers: &HeaderMap) -> Browser {
        Browser {
            flow: read(headers, FLOW).filter(|v| v.len() == 64 && hex::decode(v).is_ok()),
            session: read(headers, SESSION),
            secure: team.settings.tls,
        }
    }

    /// Whether cookies are marked `Secure` (served over TLS).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The binding cookie's value (made now if the browser has none) and the `Set-Cookie`
    /// that (re)starts its 10 minutes.
    pub fn bind(&mut self) -> (String, String) {
        let value = self
            .flow
            .get_or_insert_with(|| hex::encode(rand::random::<[u8; 32]>()))
            .clone();
        let cookie = set(FLOW, &value, FLOW_MAX_AGE, self.secure);
        (value, cookie)
    }

    /// SHA-256 of the binding cookie, if the browser sent one.
    pub fn binding_digest(&self) -> Option<String> {
        self.flow.as_deref().map(digest)
    }

    /// Whether a sign-in stored with `binding_digest` was started in this browser (compared
    /// in constant time): login CSRF is refused otherwise.
    pub fn started_here(&self, binding_digest: &str) -> bool {
        self.binding_digest()
            .is_some_and(|d| same(&d, binding_digest))
    }

    /// The CSRF token for forms rendered with [`Browser::bind`] done.
    pub fn csrf(&self) -> String {
        self.flow.as_deref().map(csrf_for).unwrap_or_default()
    }

    /// The CSRF token for the signed-in portal page (tied to the session cookie).
    pub fn session_csrf(&self) -> String {
        self.session.as_deref().map(csrf_for).unwrap_or_default()
    }

    /// A form's `csrf` field matches one of the browser's cookies; else a 403.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), Error> {
        let presented = presented.unwrap_or_default();
        let ok = [&self.flow, &self.session]
            .into_iter()
            .flatten()
            .any(|v| same(&csrf_for(v), presented));
        if ok {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            "This form has expired or came from another site (CSRF check failed). Reload the \
             page and try again.",
        ))
    }

    /// The portal session credential, when the cookie holds a live one. `Err` only when the
    /// gateway cannot tell (its store is unreachable).
    pub fn session(&self, team: &TeamState) -> Result<Option<Principal>, Error> {
        let Some(secret) = self.session.as_deref() else {
            return Ok(None);
        };
        match team.cache.authenticate(secret) {
            Ok(p) if p.kind == PrincipalKind::Session && p.user_id.is_some() => Ok(Some(p)),
            Ok(_) => Ok(None),
            Err(e) if e.kind == ErrorKind::Unavailable => Err(e),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; conduit_flow=abc".parse().unwrap());
        h.append(COOKIE, "conduit_session=cst_x".parse().unwrap());
        let cases = [(FLOW, Some("abc")), (SESSION, Some("cst_x")), ("b", None)];
        for (name, want) in cases {
            assert_eq!(read(&h, name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn cookie_flags() {
        assert_eq!(
            set(FLOW, "v", 600, true),
            "conduit_flow=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!set(FLOW, "v", 600, false).contains("Secure"));
        assert!(clear(SESSION, false).starts_with("conduit_session=; Path=/; Max-Age=0"));
    }
}
