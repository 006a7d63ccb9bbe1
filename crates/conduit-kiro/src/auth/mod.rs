//! Kiro credentials: loading, refresh ahead of expiry, single-flight refresh, write-back and the
//! status `/health` reports.
//!
//! Single flight: the state sits behind a `std::sync::Mutex` that is never held across `.await`.
//! The first caller that finds the token stale puts a [`Shared`] refresh future into the state;
//! every other caller clones and awaits that same future, so N callers cause one HTTP call. A
//! refresh that fails is remembered (`blocked`) so a dead refresh token does not turn every
//! request into another refresh call.

pub mod device;
mod discovery;
mod file;
pub mod idp;
pub mod import;
pub mod kind;
pub mod login;
pub mod profiles;
mod refresh;
pub mod registry;
pub mod signin;
pub mod social;
mod sources;
pub mod sqlite;
pub mod store;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conduit_core::{Error, ErrorKind};
use futures::future::{BoxFuture, FutureExt, Shared};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::config::KiroConfig;
pub use file::{format_time, parse_time, Source, ENV_TOKEN_FILE};
use refresh::{RefreshError, RefreshTarget};
pub use sources::own_token_file;
use sources::{load, mtime_of};

/// The message a person reads when the refresh token is dead.
pub const DEAD_CREDENTIALS: &str =
    "Kiro credentials expired and could not be refreshed: run `conduit login`";

/// How the credential is refreshed (spec §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Kiro desktop auth service (Google / GitHub login).
    Social,
    /// AWS SSO OIDC with a registered client (Builder ID, IAM Identity Center).
    Idc,
    /// OAuth 2 refresh at the company's identity provider (Microsoft Entra ID, spec §9.3).
    ExternalIdp,
}

/// Where an Entra ID account refreshes (token file keys `idpTokenUrl`, `tenantId`, `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdpSettings {
    /// The full token endpoint, if the file names one.
    pub token_url: Option<String>,
    pub tenant: Option<String>,
    pub scope: Option<String>,
}

/// Credentials as loaded; secrets never leave this module except through [`Token`].
#[derive(Clone)]
pub(crate) struct Creds {
    pub access_token: Option<String>,
    pub refresh_token: String,
    pub expires_at: Option<OffsetDateTime>,
    pub profile_arn: Option<String>,
    /// The auth / SSO region.
    pub region: String,
    pub method: AuthMethod,
    pub kind: kind::AccountKind,
    pub start_url: Option<String>,
    pub idp: Option<IdpSettings>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An access token ready for a request. `generation` identifies it for [`Auth::force_refresh`].
#[derive(Clone)]
pub struct Token {
    pub access_token: String,
    /// The ARN chat calls carry for this account's kind (spec §9.2): the placeholder for a
    /// Builder ID, the account's own for the others; `None` when it is not known. Usage and
    /// model-list calls must not send it (they only take the API region from it).
    pub profile_arn: Option<String>,
    pub method: AuthMethod,
    pub kind: kind::AccountKind,
    pub generation: u64,
}

impl Token {
    /// Adds the headers the account's kind needs on every Kiro service call (chat, usage,
    /// profiles, models): `tokentype: EXTERNAL_IDP` for Entra ID accounts.
    pub fn kind_headers(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.kind.external_idp() {
            builder.header(kind::TOKEN_TYPE_HEADER, kind::EXTERNAL_IDP_TOKEN_TYPE)
        } else {
            builder
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("profile_arn", &self.profile_arn)
            .field("method", &self.method)
            .field("kind", &self.kind)
            .field("generation", &self.generation)
            .finish()
    }
}

/// What `/health` shows about the Kiro credential. Never contains a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialStatus {
    /// Credentials are loaded and not known to be dead.
    pub healthy: bool,
    /// Where they come from (`file /path`, `KIRO_REFRESH_TOKEN`), if loaded.
    pub source: Option<String>,
    pub auth_method: Option<AuthMethod>,
    /// What kind of account conduit believes this is.
    pub account_kind: Option<kind::AccountKind>,
    pub profile_arn: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_refresh: Option<OffsetDateTime>,
    /// Refresh calls made since start (successful or not).
    pub refresh_calls: u64,
    pub last_error: Option<String>,
    /// Where long-lived secrets are kept (`file` or `keychain`).
    pub secret_store: store::SecretBackend,
}

type RefreshFuture = Shared<BoxFuture<'static, Result<Token, Error>>>;

struct Blocked {
    until: Instant,
    error: Error,
    dead: bool,
}

#[derive(Default)]
struct State {
    creds: Option<Creds>,
    source: Option<Source>,
    generation: u64,
    inflight: Option<RefreshFuture>,
    blocked: Option<Blocked>,
    last_error: Option<String>,
    last_refresh: Option<OffsetDateTime>,
    refresh_calls: u64,
    /// The token file's modification time when it was last read (a file source only).
    file_mtime: Option<std::time::SystemTime>,
}

struct Inner {
    config: Arc<KiroConfig>,
    http: reqwest::Client,
    user_agent: String,
    secret_backend: store::SecretBackend,
    state: Mutex<State>,
    /// Serialises profile discoveries; holds when the last one failed (not retried before
    /// [`DISCOVERY_BACKOFF`] has passed).
    discovery: tokio::sync::Mutex<Option<Instant>>,
}

/// The Kiro credential of one account. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl Auth {
    /// Loads the credentials now if possible; a failure is kept in the status and loading is
    /// retried on the next request (so `conduit login` while running needs no restart).
    pub fn new(config: Arc<KiroConfig>, http: reqwest::Client) -> Self {
        let user_agent = format!(
            "KiroIDE-{}-{}",
            crate::client::KIRO_VERSION,
            config.machine_id
        );
        let auth = Self {
            inner: Arc::new(Inner {
                secret_backend: store::resolve(config.secret_store).0,
                config,
                http,
                user_agent,
                state: Mutex::new(State::default()),
                discovery: tokio::sync::Mutex::new(None),
            }),
        };
        let mut st = auth.inner.lock();
        auth.inner.ensure_loaded(&mut st);
        drop(st);
        auth
    }

    /// A usable access token, refreshing first (once, shared) if it expires within the margin.
    pub async fn access_token(&self) -> Result<Token, Error> {
        let pending = {
            let mut st = self.inner.lock();
            self.inner.ensure_loaded(&mut st);
            let Some(creds) = &st.creds else {
                return Err(no_credentials(st.last_error.as_deref()));
            };
            let now = OffsetDateTime::now_utc();
            if is_valid(creds, now + self.inner.margin()) {
                return Ok(token_of(creds, st.generation));
            }
            if let Some(b) = &st.blocked {
                if Instant::now() < b.until {
                    if is_valid(creds, now) {
                        return Ok(token_of(creds, st.generation));
                    }
                    return Err(b.error.clone());
                }
            }
            self.inner.start_or_join(&mut st)
        };
        pending.await
    }

    /// Refresh after the upstream rejected `rejected` (403 invalid bearer). If another caller
    /// already replaced that token, the newer one is returned without another refresh.
    pub async fn force_refresh(&self, rejected: &Token) -> Result<Token, Error> {
        let pending = {
            let mut st = self.inner.lock();
            let Some(creds) = &st.creds else {
                return Err(no_credentials(st.last_error.as_deref()));
            };
            if st.generation != rejected.generation {
                return Ok(token_of(creds, st.generation));
            }
            // Within the backoff of a failed refresh, dead or transient: a token service that
            // is down must not get one more refresh call per rejected request.
            if let Some(b) = &st.blocked {
                if Instant::now() < b.until {
                    return Err(b.error.clone());
                }
            }
            self.inner.start_or_join(&mut st)
        };
        match pending.await {
            // The refresh failed and handed back the token still held, which the upstream
            // just rejected: resending it would only earn another 403.
            Ok(token) if token.generation == rejected.generation => {
                Err(self.inner.lock().blocked.as_ref().map_or_else(
                    || {
                        Error::new(
                            ErrorKind::Overloaded,
                            "could not refresh the Kiro access token; try again shortly",
                        )
                    },
                    |b| b.error.clone(),
                ))
            }
            other => other,
        }
    }

    pub fn status(&self) -> CredentialStatus {
        let st = self.inner.lock();
        let dead = st.blocked.as_ref().is_some_and(|b| b.dead);
        CredentialStatus {
            healthy: st.creds.is_some() && !dead,
            source: st.source.as_ref().map(Source::describe),
            auth_method: st.creds.as_ref().map(|c| c.method),
            account_kind: st.creds.as_ref().map(|c| c.kind),
            profile_arn: st.creds.as_ref().and_then(|c| c.profile_arn.clone()),
            expires_at: st.creds.as_ref().and_then(|c| c.expires_at),
            last_refresh: st.last_refresh,
            refresh_calls: st.refresh_calls,
            last_error: st.last_error.clone(),
            secret_store: self.inner.secret_backend,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads credentials when there are none, or when the ones held are dead (a `conduit
    /// login` while the gateway runs is picked up by the next request).
    fn ensure_loaded(&self, st: &mut State) {
        let dead = st.blocked.as_ref().is_some_and(|b| b.dead);
        if st.creds.is_some() && !dead {
            self.follow_file(st);
            return;
        }
        match load(&self.config) {
            Ok((creds, source)) => {
                let same = st
                    .creds
                    .as_ref()
                    .is_some_and(|c| c.refresh_token == creds.refresh_token);
                if dead && same {
                    return;
                }
                tracing::info!(source = %source.describe(), method = ?creds.method, "loaded Kiro credentials");
                st.file_mtime = mtime_of(&source);
                st.creds = Some(creds);
                st.source = Some(source);
                st.last_error = None;
                st.blocked = None;
                st.generation += 1;
            }
            Err(e) if st.creds.is_none() => st.last_error = Some(e),
            Err(_) => {}
        }
    }

    fn start_or_join(self: &Arc<Self>, st: &mut State) -> RefreshFuture {
        if let Some(f) = &st.inflight {
            return f.clone();
        }
        let inner = Arc::clone(self);
        let fut = async move { inner.run_refresh().await }.boxed().shared();
        st.inflight = Some(fut.clone());
        fut
    }

    async fn run_refresh(self: Arc<Self>) -> Result<Token, Error> {
        let (creds, source) = {
            let mut st = self.lock();
            match (&st.creds, &st.source) {
                (Some(c), Some(s)) => (c.clone(), s.clone()),
                _ => {
                    st.inflight = None;
                    return Err(no_credentials(st.last_error.as_deref()));
                }
            }
        };
        let creds = match self.newer_on_disk(&source, &creds) {
            Some(disk) if is_valid(&disk, OffsetDateTime::now_utc() + self.margin()) => {
                return Ok(self.adopt(disk));
            }
            Some(disk) => disk,
            None => creds,
        };
        let base_url = match (creds.method, &creds.idp) {
            (AuthMethod::Idc, _) => self.config.sso_oidc_url_for(&creds.region),
            (AuthMethod::Social, _) => self.config.auth_url_for(&creds.region),
            (AuthMethod::ExternalIdp, Some(i)) => {
                match idp::token_url(self.config.idp_url.as_deref(), i) {
                    Ok(u) => u,
                    Err(e) => return self.finish_failure(RefreshError::Dead(e)),
                }
            }
            (AuthMethod::ExternalIdp, None) => {
                return self.finish_failure(RefreshError::Dead(
                    "the Entra ID token file names no token endpoint".into(),
                ))
            }
        };
        let target = RefreshTarget {
            base_url,
            user_agent: &self.user_agent,
            timeout: REFRESH_TIMEOUT,
        };
        let mut result = self.refresh_honouring_throttling(&target, &creds).await;
        let mut creds = creds;
        if let Err(RefreshError::Dead(_)) = &result {
            if let Some(fresh) = self.origin_rotated(&source) {
                if is_valid(&fresh, OffsetDateTime::now_utc() + self.margin()) {
                    return Ok(self.adopt(fresh));
                }
                result = self.refresh_honouring_throttling(&target, &fresh).await;
                creds = fresh;
            }
        }
        match result {
            Ok(r) => self.finish_success(creds, source, r).await,
            Err(e) => self.finish_failure(e),
        }
    }

    /// One refresh call; a 429 whose `Retry-After` is short is waited out and tried again (a
    /// throttled token endpoint is not a dead refresh token, spec §9.3).
    async fn refresh_honouring_throttling(
        &self,
        target: &RefreshTarget<'_>,
        creds: &Creds,
    ) -> Result<refresh::Refreshed, RefreshError> {
        let mut waits = 0;
        loop {
            self.lock().refresh_calls += 1;
            match refresh::refresh(&self.http, target, creds).await {
                Err(RefreshError::Throttled {
                    retry_after,
                    message,
                }) if waits < MAX_THROTTLE_WAITS => {
                    let wait = retry_after.unwrap_or(self.config.refresh_retry_backoff);
                    if wait > MAX_THROTTLE_WAIT {
                        return Err(RefreshError::Throttled {
                            message,
                            retry_after,
                        });
                    }
                    tracing::warn!(?wait, "the token service throttled the refresh; waiting");
                    waits += 1;
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    fn margin(&self) -> time::Duration {
        time::Duration::try_from(self.config.refresh_margin).unwrap_or(time::Duration::minutes(5))
    }

    /// The token file as it is now, if someone else (the Kiro IDE, `conduit login`) replaced
    /// the refresh token since we read it; refreshing with our old one would fail.
    fn newer_on_disk(&self, source: &Source, ours: &Creds) -> Option<Creds> {
        let Source::File(path) = source else {
            return None;
        };
        let mut disk = file::read_token_file(path, &self.config.region).ok()?;
        if disk.refresh_token == ours.refresh_token {
            return None;
        }
        if let Some(arn) = &self.config.profile_arn {
            disk.profile_arn = Some(arn.clone());
        }
        Some(disk)
    }

    /// For an imported account whose origin (Kiro IDE, kiro-cli) rotated the refresh token
    /// after the import: those newer tokens, saved into conduit's token file.
    fn origin_rotated(&self, source: &Source) -> Option<Creds> {
        let Source::File(path) = source else {
            return None;
        };
        let mut fresh = import::from_origin(path, &self.config.region)?;
        if let Some(arn) = &self.config.profile_arn {
            fresh.profile_arn = Some(arn.clone());
        }
        tracing::info!("the account's origin rotated its refresh token; taking the newer one");
        if let Err(e) = file::write_back(source, &fresh, None) {
            tracing::warn!(error = %e, "could not save the tokens taken from the origin");
        }
        Some(fresh)
    }

    /// Takes over still-valid credentials found on disk without a refresh call.
    fn adopt(&self, disk: Creds) -> Token {
        tracing::info!("the Kiro token file was refreshed by another program; using it");
        let mut st = self.lock();
        st.generation += 1;
        st.blocked = None;
        st.last_error = None;
        st.inflight = None;
        let token = token_of(&disk, st.generation);
        st.creds = Some(disk);
        token
    }

    async fn finish_success(
        &self,
        mut creds: Creds,
        source: Source,
        r: refresh::Refreshed,
    ) -> Result<Token, Error> {
        creds.access_token = Some(r.access_token);
        if let Some(rt) = r.refresh_token {
            creds.refresh_token = rt;
        }
        creds.expires_at = Some(r.expires_at);
        if self.config.profile_arn.is_none() && r.profile_arn.is_some() {
            creds.profile_arn = r.profile_arn;
        }
        let token = {
            let mut st = self.lock();
            st.generation += 1;
            st.creds = Some(creds.clone());
            st.blocked = None;
            st.last_error = None;
            st.last_refresh = Some(OffsetDateTime::now_utc());
            token_of(&creds, st.generation)
        };
        tracing::info!(method = ?creds.method, expires_at = %format_time(r.expires_at), "refreshed the Kiro access token");
        // Persist before answering: the old refresh token may already be invalid upstream.
        let env_seed = self.config.refresh_token.clone();
        let persisted = tokio::task::spawn_blocking(move || {
            file::write_back(&source, &creds, env_seed.as_deref())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        let mut st = self.lock();
        if let Err(e) = persisted {
            tracing::warn!(error = %e, "could not save the refreshed Kiro token; it will be lost on restart");
            st.last_error = Some(format!("could not save the refreshed token: {e}"));
        }
        st.inflight = None;
        Ok(token)
    }

    fn finish_failure(&self, e: RefreshError) -> Result<Token, Error> {
        let mut st = self.lock();
        st.inflight = None;
        let (error, dead, backoff, detail) = match e {
            RefreshError::Dead(msg) => (
                Error::new(ErrorKind::Credentials, DEAD_CREDENTIALS),
                true,
                self.config.refresh_failure_backoff,
                msg,
            ),
            RefreshError::Transient(msg) => (
                Error::new(
                    ErrorKind::Overloaded,
                    format!("could not refresh the Kiro access token ({msg}); try again shortly"),
                ),
                false,
                self.config.refresh_retry_backoff,
                msg,
            ),
            RefreshError::Throttled {
                message,
                retry_after,
            } => {
                let wait = retry_after.unwrap_or(self.config.refresh_retry_backoff);
                (
                    Error::new(
                        ErrorKind::RateLimited,
                        format!(
                            "{message}; conduit tries again in {} s (the refresh token is fine)",
                            wait.as_secs().max(1)
                        ),
                    ),
                    false,
                    wait,
                    message,
                )
            }
        };
        tracing::warn!(dead, error = %detail, "Kiro token refresh failed");
        st.last_error = Some(detail);
        st.blocked = Some(Blocked {
            until: Instant::now() + backoff,
            error: error.clone(),
            dead,
        });
        // A token inside the refresh margin but not yet expired is still worth using.
        match &st.creds {
            Some(c) if !dead && is_valid(c, OffsetDateTime::now_utc()) => {
                Ok(token_of(c, st.generation))
            }
            _ => Err(error),
        }
    }
}

fn is_valid(creds: &Creds, at: OffsetDateTime) -> bool {
    creds.access_token.is_some() && creds.expires_at.is_some_and(|exp| exp > at)
}

fn token_of(creds: &Creds, generation: u64) -> Token {
    Token {
        access_token: creds.access_token.clone().unwrap_or_default(),
        profile_arn: creds.kind.chat_arn(creds.profile_arn.as_deref()),
        method: creds.method,
        kind: creds.kind,
        generation,
    }
}

fn no_credentials(detail: Option<&str>) -> Error {
    Error::new(
        ErrorKind::Credentials,
        detail
            .unwrap_or("no Kiro credentials loaded: run `conduit login`")
            .to_string(),
    )
}

/// How long refresh HTTP calls may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
/// A throttled refresh is waited out inline this often, when the wait is this short at most.
const MAX_THROTTLE_WAITS: u32 = 2;
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests;
