//! Who is looking at a console page: a live portal session (else a GET goes to the sign-in
//! page and a POST is refused), not idle past `PORTAL_IDLE_MINUTES`, with its role. Forms are
//! read here, after their CSRF token (tied to the session cookie) is checked. [`Failure`] is
//! the one refusal page.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use conduit_core::{Error, ErrorKind};
use conduit_store::{Actor, Role};

use super::idle;
use crate::state::AppState;
use crate::team::api::caller::Caller;
use crate::team::api::ApiError;
use crate::team::web::cookie::{self, SESSION};
use crate::team::web::html::redirect;
use crate::team::web::Ctx;
use crate::team::Principal;

/// A signed-in person on a console page.
pub struct Viewer {
    pub ctx: Ctx,
    pub me: Principal,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        Viewer::check(ctx, parts.method == Method::GET).await
    }
}

impl Viewer {
    /// The person behind `ctx`'s session cookie, if it is live and not idle too long. Else a
    /// GET (`get`) is sent to sign in, and anything else refused.
    pub async fn check(ctx: Ctx, get: bool) -> Result<Viewer, Response> {
        let me = match ctx.browser.session(&ctx.team) {
            Ok(Some(p)) => p,
            Ok(None) if get => return Err(redirect(StatusCode::SEE_OTHER, "/portal", &[])),
            Ok(None) => {
                return Err(Failure::new(
                    StatusCode::UNAUTHORIZED,
                    "You are not signed in (or your session has ended). Sign in again.",
                )
                .into_response())
            }
            Err(e) => return Err(Failure::from(e).into_response()),
        };
        let viewer = Viewer { ctx, me };
        if viewer.idle_too_long().await? {
            return Err(viewer.end_idle().await);
        }
        Ok(viewer)
    }
}

impl Viewer {
    pub fn role(&self) -> Role {
        self.me.role
    }

    /// Admins and auditors see everything.
    pub fn reader(&self) -> bool {
        matches!(self.me.role, Role::Admin | Role::Auditor)
    }

    pub fn admin(&self) -> bool {
        self.me.role == Role::Admin
    }

    pub fn require_reader(&self) -> Result<(), Failure> {
        if self.reader() {
            return Ok(());
        }
        Err(Failure::forbidden(
            "This page is for admins and auditors. Your role is member.",
        ))
    }

    pub fn require_admin(&self) -> Result<(), Failure> {
        match self.me.role {
            Role::Admin => Ok(()),
            Role::Auditor => Err(Failure::forbidden(
                "Auditors can look at everything but change nothing.",
            )),
            Role::Member => Err(Failure::forbidden("This needs the admin role.")),
        }
    }

    /// The signed-in user's id (a portal session always has one).
    pub fn user_id(&self) -> &str {
        self.me.user_id.as_deref().unwrap_or_default()
    }

    /// The CSRF token every form on this viewer's pages carries.
    pub fn csrf(&self) -> String {
        self.ctx.browser.session_csrf()
    }

    /// A posted form, after its `csrf` field matched this session's token (constant time).
    pub fn form(&self, body: &[u8]) -> Result<HashMap<String, String>, Failure> {
        let fields = crate::team::wire::form(body);
        let presented = fields.get("csrf").map(String::as_str).unwrap_or_default();
        let expected = self.csrf();
        if expected.is_empty() || !cookie::same(&expected, presented) {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "CSRF check failed: this form has expired or came from another site. Reload \
                 the page and try again.",
            ));
        }
        Ok(fields)
    }

    /// Who to write in the audit log.
    pub fn actor(&self) -> Actor {
        self.me.actor(self.ctx.ip_text())
    }

    /// The admin API's view of this person (its shared write functions take one).
    pub fn caller(&self) -> Caller {
        Caller {
            principal: self.me.clone(),
            ip: self.ctx.ip_text(),
        }
    }

    fn max_idle(&self) -> i64 {
        i64::try_from(self.ctx.team.settings.portal_idle.as_secs()).unwrap_or(i64::MAX / 4)
    }

    /// Whether the session sat unused past the idle limit; else note this visit.
    async fn idle_too_long(&self) -> Result<bool, Response> {
        let now = crate::team::wire::now();
        let id = &self.me.credential_id;
        let idle = &self.ctx.web.idle;
        let last = match idle.last_seen(id) {
            Some(at) => at,
            None => {
                let row = self
                    .ctx
                    .team
                    .store
                    .credential(id)
                    .await
                    .map_err(|e| Failure::from(e).into_response())?;
                row.map_or(now, |c| c.last_used_at.unwrap_or(c.created_at))
            }
        };
        if idle::expired(last, now, self.max_idle()) {
            return Ok(true);
        }
        idle.seen(id, now, self.max_idle());
        Ok(false)
    }

    /// End an idle session (audited) and send the browser to sign in again.
    async fn end_idle(&self) -> Response {
        let id = &self.me.credential_id;
        self.ctx.web.idle.forget(id);
        let store = &self.ctx.team.store;
        match store
            .revoke_credential(id, "auth.session_idle", &self.actor())
            .await
        {
            Ok(_) => crate::team::api::sync(&self.ctx.team).await,
            Err(e) => tracing::warn!(error = %e, "cannot end an idle portal session"),
        }
        let clear = cookie::clear(SESSION, self.ctx.browser.secure());
        redirect(StatusCode::SEE_OTHER, "/portal?ended=idle", &[clear])
    }
}

/// A refusal or failure, as a page: its status, and what to tell the person.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn forbidden(message: &str) -> Failure {
        Failure::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(what: &str) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, format!("No such {what}."))
    }

    /// The page's title for its status.
    pub fn title(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 422 => "Not saved",
            401 => "Sign in first",
            403 => "Forbidden",
            404 => "Not found",
            409 => "Conflict",
            429 => "Too many requests",
            503 => "Unavailable",
            _ => "Something went wrong",
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let (status, _) = conduit_anthropic::error_body(&e);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match e.kind {
            ErrorKind::Internal => "The gateway failed to do that; the log says why.".to_owned(),
            _ => e.message.clone(),
        };
        if e.kind == ErrorKind::Internal {
            tracing::warn!(error = %e.message, "portal request failed");
        }
        Failure {
            status,
            message,
            retry_after: e.retry_after,
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::from(e.0)
    }
}

impl From<conduit_store::StoreError> for Failure {
    fn from(e: conduit_store::StoreError) -> Failure {
        Failure::from(crate::team::api::store_error(e))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        super::layout::failure(&self)
    }
}

/// A query string's fields (the first of each name; malformed pairs skipped).
pub fn params(raw: Option<&str>) -> HashMap<String, String> {
    crate::team::wire::form(raw.unwrap_or_default().as_bytes())
}

/// A form field, trimmed; `None` when absent or empty.
pub fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// An optional whole-number field.
pub fn number(
    form: &HashMap<String, String>,
    name: &str,
    label: &str,
) -> Result<Option<i64>, Failure> {
    field(form, name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("{label}: {v:?} is not a whole number."),
                )
            })
        })
        .transpose()
}
