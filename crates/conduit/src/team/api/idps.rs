//! `/admin/idps`: the identity providers, CCAG's shape plus `has_client_secret` (the secret is
//! write-only). The environment's IdP (id `env`, from `OIDC_ISSUER`) is listed first and
//! cannot be changed here (409). Each write is audited by the store, applied to this
//! instance's registry at once, and pulled into its cache; other instances follow on sync.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use conduit_core::{Error, RawError};
use conduit_store::{Idp, IdpPatch, NewIdp, Role};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::caller::{Admin, Reader};
use super::error::{ApiError, ApiResult};
use super::json::AdminJson;
use super::wire::rfc3339;
use crate::state::TeamState;
use crate::team::oidc::{allowed_url, normalise_domains};

/// The body of `POST /admin/idps` and `PATCH /admin/idps/{id}`. For a patch, an absent field
/// stays as it is and `null` clears the optional ones; a create requires `name`, `issuer_url`
/// and `audience` and reads `null` as absent.
#[derive(Debug, Deserialize)]
pub struct IdpBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    issuer_url: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default, deserialize_with = "present")]
    client_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    client_secret: Option<Option<String>>,
    #[serde(default)]
    auto_provision: Option<bool>,
    #[serde(default)]
    default_role: Option<String>,
    #[serde(default)]
    allowed_domains: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    scopes: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A field that is present (`Some`), possibly `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An IdP as listed: never its client secret.
#[derive(Debug, Serialize)]
pub struct IdpView {
    id: String,
    name: String,
    issuer_url: String,
    audience: String,
    client_id: Option<String>,
    has_client_secret: bool,
    auto_provision: bool,
    default_role: &'static str,
    allowed_domains: Vec<String>,
    scopes: Option<String>,
    enabled: bool,
    source: &'static str,
    created_at: Option<String>,
    flow_type: &'static str,
    jwks_url: Option<String>,
    scim_enabled: bool,
}

impl IdpView {
    fn new(idp: &Idp, source: &'static str) -> Self {
        Self {
            id: idp.id.clone(),
            name: idp.name.clone(),
            issuer_url: idp.issuer_url.clone(),
            audience: idp.audience.clone(),
            client_id: idp.client_id.clone(),
            has_client_secret: idp.client_secret.is_some(),
            auto_provision: idp.auto_provision,
            default_role: idp.default_role.as_str(),
            allowed_domains: idp.allowed_domains.clone(),
            scopes: idp.scopes.clone(),
            enabled: idp.enabled,
            source,
            created_at: (source == "admin").then(|| rfc3339(idp.created_at)),
            flow_type: "authorization_code",
            jwks_url: None,
            scim_enabled: false,
        }
    }
}

/// `POST /admin/idps` → 201.
pub async fn create(
    team: TeamState,
    Admin(caller): Admin,
    AdminJson(body): AdminJson<IdpBody>,
) -> ApiResult<(StatusCode, Json<IdpView>)> {
    let idp = add(&team, &caller.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(IdpView::new(&idp, "admin"))))
}

/// Validate and store a new IdP (audited), and put it in force here.
pub(crate) async fn add(
    team: &TeamState,
    actor: &conduit_store::Actor,
    body: IdpBody,
) -> ApiResult<Idp> {
    let new = NewIdp {
        name: name(body.name)?,
        issuer_url: issuer(body.issuer_url)?,
        audience: audience(body.audience)?,
        client_id: body.client_id.flatten().filter(|c| !c.trim().is_empty()),
        client_secret: body.client_secret.flatten().filter(|c| !c.is_empty()),
        auto_provision: body.auto_provision.unwrap_or(false),
        default_role: role(body.default_role.as_deref().unwrap_or("member"))?,
        allowed_domains: domains(body.allowed_domains.unwrap_or_default()),
        scopes: body.scopes.flatten().filter(|s| !s.trim().is_empty()),
        enabled: body.enabled.unwrap_or(true),
    };
    let idp = team.store.create_idp(&new, actor).await?;
    applied(team, &idp).await;
    Ok(idp)
}

/// `GET /admin/idps`: the environment's first.
pub async fn list(team: TeamState, _: Reader) -> ApiResult<Json<Value>> {
    let env = team.oidc.env_idp().map(|i| IdpView::new(&i, "env"));
    let stored = team.store.list_idps().await?;
    let idps: Vec<IdpView> = env
        .into_iter()
        .chain(stored.iter().map(|i| IdpView::new(i, "admin")))
        .collect();
    Ok(Json(json!({ "idps": idps })))
}

/// `PATCH /admin/idps/{id}`.
pub async fn update(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<IdpBody>,
) -> ApiResult<Json<IdpView>> {
    not_env(&id)?;
    let patch = IdpPatch {
        name: body.name.map(|n| name(Some(n))).transpose()?,
        issuer_url: body.issuer_url.map(|u| issuer(Some(u))).transpose()?,
        audience: body.audience.map(|a| audience(Some(a))).transpose()?,
        client_id: body.client_id,
        client_secret: body.client_secret,
        auto_provision: body.auto_provision,
        default_role: body.default_role.as_deref().map(role).transpose()?,
        allowed_domains: body.allowed_domains.map(domains),
        scopes: body.scopes,
        enabled: body.enabled,
    };
    if patch == IdpPatch::default() {
        return Err(ApiError::invalid(
            "nothing to change: send at least one field",
        ));
    }
    let idp = team.store.update_idp(&id, &patch, &caller.actor()).await?;
    applied(&team, &idp).await;
    Ok(Json(IdpView::new(&idp, "admin")))
}

/// `DELETE /admin/idps/{id}`: its users stay; its tokens are refused from now on.
pub async fn delete(
    team: TeamState,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    not_env(&id)?;
    let Some(mut idp) = team.store.idp(&id).await? else {
        return Err(ApiError::not_found("identity provider"));
    };
    team.store.delete_idp(&id, &caller.actor()).await?;
    idp.deleted = true;
    idp.version += 1;
    applied(&team, &idp).await;
    Ok(Json(json!({"deleted": true})))
}

/// This instance uses the write at once; the cache (and other instances) catch up on sync.
async fn applied(team: &TeamState, idp: &Idp) {
    team.oidc.apply(std::slice::from_ref(idp));
    super::sync(team).await;
}

fn not_env(id: &str) -> Result<(), ApiError> {
    if id != crate::team::oidc::ENV_ID {
        return Ok(());
    }
    let message = "the environment's identity provider (OIDC_ISSUER) cannot be changed through \
                   the API: change the environment and restart";
    let body =
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
    Err(ApiError(Error::invalid_request(message).with_raw(
        RawError {
            dialect: "anthropic",
            status: 409,
            body: body.to_string().into(),
        },
    )))
}

fn required(field: &str, value: Option<String>) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("{field}: required, a non-empty string")))
}

fn name(value: Option<String>) -> Result<String, ApiError> {
    required("name", value)
}

fn audience(value: Option<String>) -> Result<String, ApiError> {
    required("audience", value).map_err(|_| {
        ApiError::invalid(
            "audience: required, the `aud` the IdP's tokens carry for this gateway (there is no \
             skipping the audience check)",
        )
    })
}

/// Kept verbatim (compared exactly with `iss`), https or loopback http.
fn issuer(value: Option<String>) -> Result<String, ApiError> {
    let url = required("issuer_url", value)?;
    if !allowed_url(&url) {
        return Err(ApiError::invalid(format!(
            "issuer_url: {url:?} must be an https:// URL (plain http:// only on localhost)"
        )));
    }
    Ok(url)
}

fn role(value: &str) -> Result<Role, ApiError> {
    Role::parse(value).ok_or_else(|| {
        ApiError::invalid(format!(
            "default_role: must be member, admin or auditor (got {value:?})"
        ))
    })
}

fn domains(values: Vec<String>) -> Vec<String> {
    normalise_domains(values.iter().map(String::as_str))
}
