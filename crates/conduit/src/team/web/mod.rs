//! Browser pages of team mode, server-rendered (no script): the portal's sign-in
//! (`/portal*`), the one identity-provider callback (`/oauth/callback`, also
//! `/auth/cli/callback`), Claude Code's code entry (`/device*`), the command-line sign-in
//! (`/auth/cli/*`), `conduit token login`'s authorization request and consent
//! (`/oauth/authorize*`) and the setup scripts (`/auth/setup*`). Where things live:
//! - `cookie.rs`: the binding and session cookies, CSRF tokens;
//! - `html.rs`: escaping, the page layout and its headers;
//! - `flow.rs`: the authorization-code flow at an IdP (start, finish); `exchange.rs`: the
//!   code exchange at its token endpoint;
//! - `callback.rs`, `portal.rs`, `device.rs`, `cli.rs`, `authorize.rs`, `setup.rs`: the
//!   handlers (`authorize.rs` reuses `cli.rs`'s sign-in; the request's checks are
//!   `oauth/authorize.rs`);
//! - sessions are minted by `team/signin.rs`, per-address windows are `team/iplimit.rs`.

mod authorize;
mod callback;
mod cli;
pub mod cookie;
mod device;
mod exchange;
mod flow;
pub mod html;
pub(crate) mod portal;
mod setup;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::state::{AppState, TeamState};
use crate::team::api::throttle::LoginThrottle;
use crate::team::iplimit::IpLimit;
use conduit_core::Error;
use cookie::Browser;

/// Form bodies are small.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// What the pages share besides the team state.
pub struct Web {
    /// For identity providers' token endpoints (5 s timeouts, no redirects).
    pub(crate) http: reqwest::Client,
    /// The portal's idle clock per session.
    pub(crate) idle: crate::team::portal::Idle,
    throttle: Arc<LoginThrottle>,
    /// `/device` code entry: 10 per 600 s per address.
    device_limit: IpLimit,
    start_limit: IpLimit,
}

/// `/portal*`, `/oauth/callback`, `/oauth/authorize*`, `/auth/cli/*`, `/auth/setup*`,
/// `/device*`.
pub fn routes() -> Router<AppState> {
    routes_with(Arc::new(LoginThrottle::default()))
}

/// The pages with a given password-login throttle (tests move its clock).
pub fn routes_with(throttle: Arc<LoginThrottle>) -> Router<AppState> {
    let web = Arc::new(Web {
        http: crate::team::oidc::http_client(),
        throttle,
        device_limit: IpLimit::new(10, Duration::from_secs(600)),
        start_limit: IpLimit::new(STARTS_PER_WINDOW, Duration::from_secs(600)),
        idle: crate::team::portal::Idle::default(),
    });
    Router::new()
        .merge(crate::team::portal::routes())
        .route("/portal", get(portal::show))
        .route("/portal/login", post(portal::login))
        .route("/portal/logout", post(portal::logout))
        .route("/portal/sso/{idp_id}", get(portal::sso))
        .route("/oauth/callback", get(callback::callback))
        .route("/auth/cli/callback", get(callback::callback))
        .route("/device", get(device::show).post(device::enter))
        .route("/device/decide", post(device::decide))
        .route("/auth/cli/login", get(cli::login))
        .route("/auth/cli/sso", get(cli::sso))
        .route("/auth/cli/complete", post(cli::complete))
        .route("/auth/cli/poll", get(cli::poll))
        .route("/oauth/authorize", get(authorize::authorize))
        .route("/oauth/authorize/decide", post(authorize::decide))
        .route("/auth/setup", get(setup::installer))
        .route("/auth/setup/token-script", get(setup::token_script))
        .layer(Extension(web))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// Everything a page handler needs from the request besides its body.
pub struct Ctx {
    pub(crate) team: TeamState,
    pub(crate) web: Arc<Web>,
    pub(crate) browser: Browser,
    pub(crate) ip: Option<IpAddr>,
    /// `<public base>`, for redirect URIs and scripts.
    pub(crate) base: String,
}

impl Ctx {
    /// The one redirect URI registered at every IdP.
    fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.base)
    }

    /// Count one anonymous sign-in start (each writes a short-lived store row) against this
    /// address: 429 past [`STARTS_PER_WINDOW`] per 10 minutes.
    fn admit_start(&self) -> Result<(), Error> {
        self.web
            .start_limit
            .check(self.ip, std::time::Instant::now())
            .map_err(|secs| {
                Error::limited(
                    format!("Too many sign-ins started from this address: wait {secs} s."),
                    secs,
                )
            })
    }

    /// The client's address as the audit log writes it.
    pub(crate) fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// Start a sign-in at an IdP (after [`Ctx::admit_start`]): the URL to send the browser to.
    async fn start_flow(&self, s: flow::Start<'_>) -> Result<String, Error> {
        self.admit_start()?;
        flow::start(&self.team, s).await
    }
}

/// Sign-in starts (IdP redirects, command-line sessions) per address per 10 minutes.
const STARTS_PER_WINDOW: usize = 60;

impl FromRequestParts<AppState> for Ctx {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let team = TeamState::from_request_parts(parts, state).await?;
        let Extension(web) = Extension::<Arc<Web>>::from_request_parts(parts, state)
            .await
            .map_err(axum::response::IntoResponse::into_response)?;
        let ip = crate::team::wire::peer_ip(parts);
        Ok(Ctx {
            browser: Browser::new(&team, &parts.headers),
            base: crate::team::origin::public_base(&team, &parts.headers),
            team,
            web,
            ip,
        })
    }
}
