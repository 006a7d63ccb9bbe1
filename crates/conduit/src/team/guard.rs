//! The `/v1` guard in team mode: authenticate every presented credential (`x-api-key`,
//! `Authorization: Bearer`; either valid is enough) through the bearer tiers (`auth.rs`: key,
//! JWT, session), admit the
//! request under its key's RPM, strip the gateway's credentials so nothing upstream sees them,
//! and hand the [`Principal`] to the handler (request extensions) for the access log. Before the
//! rate limits, the caller's budgets are checked in memory (never for `count_tokens`); the
//! request then carries a [`Meter`] that writes its ledger row when it ends, and the response
//! the remaining-budget headers. Refusals are errors in the caller's dialect; every 401 and
//! every budget refusal (429 `billing_error`) says `x-should-retry: false`.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use conduit_core::{Error, ErrorKind};

use super::spend::headers;
use super::spend::meter::Meter;
use super::Principal;
use crate::routes::guard::{presented_keys, unread_body};
use crate::routes::models::Dialect;
use crate::routes::{anthropic, openai};
use crate::state::TeamState;

/// Request headers that carry a gateway credential, removed before the request goes on.
const CREDENTIAL_HEADERS: [&str; 3] = ["x-api-key", "authorization", "anthropic-api-key"];

pub async fn require_credential(
    State(team): State<TeamState>,
    mut req: Request,
    next: Next,
) -> Response {
    let dialect = Dialect::of(req.uri().path(), req.headers());
    // Owned: the request body is not `Sync`, so no borrow of the request may cross an await.
    let mut secrets: Vec<String> = presented_keys(req.headers()).map(str::to_owned).collect();
    secrets.dedup();
    let version = req.version();
    let principal = match authenticate(&team, &secrets).await {
        Ok(p) => p,
        Err(e) => return unread_body(version, refuse(dialect, &e)),
    };
    // Budgets (in memory): never for count_tokens, which spends nothing.
    let headroom = if req.uri().path().ends_with("/count_tokens") {
        None
    } else {
        match team.spend.check(&principal) {
            Ok(h) => h,
            Err(e) => return unread_body(version, refuse(dialect, &e)),
        }
    };
    let admission = match team.limiter.admit(&principal).await {
        Ok(a) => a,
        Err(e) => {
            // Rate refusals are counted by the limiter, which knows which limit refused.
            if e.kind == ErrorKind::Unavailable {
                crate::metrics::refused("limits_unavailable");
            }
            return unread_body(version, refuse(dialect, &e));
        }
    };
    let headers = req.headers_mut();
    for name in CREDENTIAL_HEADERS {
        headers.remove(name);
    }
    let meter = Meter::new(team.spend.clone(), principal.clone(), admission);
    req.extensions_mut().insert(meter);
    req.extensions_mut().insert(principal);
    let mut response = next.run(req).await;
    if let Some(headroom) = headroom {
        headers::apply(response.headers_mut(), &headroom);
    }
    response
}

/// The principal of the first valid credential presented (also `/managed/settings`'s check).
/// Every presented credential is looked up (the same one twice only once: Claude Code's helper
/// sends it in both headers), so timing does not tell which one was wrong.
pub(crate) async fn authenticate(team: &TeamState, secrets: &[String]) -> Result<Principal, Error> {
    let mut found: Option<Principal> = None;
    let mut refusal: Option<Error> = None;
    for secret in secrets {
        match super::auth::authenticate(team, secret).await {
            Ok(p) => {
                found.get_or_insert(p);
            }
            // Unavailable (the store is unreachable) outranks a plain refusal.
            Err(e)
                if refusal
                    .as_ref()
                    .is_none_or(|r| r.kind != ErrorKind::Unavailable) =>
            {
                refusal = Some(e);
            }
            Err(_) => {}
        }
    }
    match (found, refusal) {
        (Some(p), _) => Ok(p),
        (None, Some(e)) => Err(e),
        (None, None) => Err(Error::new(
            ErrorKind::Authentication,
            "missing API key: send a virtual key (sk-proxy-…), a session token or a sign-in token \
             as x-api-key or Authorization: Bearer",
        )),
    }
}

/// `error` in the caller's dialect; a 401 also says `x-should-retry: false`.
pub fn refuse(dialect: Dialect, error: &Error) -> Response {
    let mut response = match dialect {
        Dialect::Anthropic => anthropic::error_response(error),
        Dialect::OpenAi => openai::error_response(error),
    };
    // A wrong credential or a spent budget: the same request will not succeed by retrying.
    if matches!(
        error.kind,
        ErrorKind::Authentication | ErrorKind::BudgetExceeded
    ) {
        response
            .headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    response
}
