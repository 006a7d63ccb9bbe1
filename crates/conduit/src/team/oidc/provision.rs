//! Who a checked identity is: the user keyed on `(issuer, subject)`, its e-mail refreshed when
//! the token says otherwise; an unknown person is created with the IdP's `default_role` when
//! the IdP auto-provisions (audited `user.provision`, actor `oidc:<idp name>`), else refused
//! with a 403 that says so; a deactivated user is refused (403).

use conduit_core::{Error, ErrorKind};
use conduit_store::{Actor, NewOidcUser, Store, StoreError, User};

use super::{Identity, Registry};
use crate::team::api::store_error;

/// The user a checked identity is: found by `(issuer, subject)`, else provisioned when the IdP
/// allows it, else a 403 that says so; an inactive user is refused.
pub async fn resolve_user(
    store: &Store,
    registry: &Registry,
    id: &Identity,
) -> Result<User, Error> {
    let found = store
        .user_by_identity(&id.issuer, &id.subject)
        .await
        .map_err(store_error)?;
    let user = match found {
        Some(user) => refresh_email(store, user, id).await?,
        None => provision(store, registry, id).await?,
    };
    if !user.active {
        return Err(deactivated());
    }
    Ok(user)
}

/// The refusal for a person whose account an admin deactivated (403).
pub fn deactivated() -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "this account is deactivated at this gateway; ask an admin",
    )
}

/// The e-mail is an attribute: the token's (when it has one) replaces the stored one.
async fn refresh_email(store: &Store, mut user: User, id: &Identity) -> Result<User, Error> {
    if id.email.is_some() && user.email != id.email {
        store
            .set_user_email(&user.id, id.email.as_deref())
            .await
            .map_err(store_error)?;
        user.email = id.email.clone();
    }
    Ok(user)
}

async fn provision(store: &Store, registry: &Registry, id: &Identity) -> Result<User, Error> {
    let who = id.email.as_deref().unwrap_or(&id.subject);
    let idp = registry.get(&id.idp_id).ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            "identity provider token refused: its identity provider is no longer configured",
        )
    })?;
    if !idp.auto_provision {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "no account for {who} at this gateway, and this identity provider does not create \
                 accounts: ask an admin"
            ),
        ));
    }
    let new = NewOidcUser {
        issuer: id.issuer.clone(),
        external_subject: id.subject.clone(),
        email: id.email.clone(),
        role: idp.default_role,
        idp_id: idp.id.clone(),
    };
    let actor = Actor {
        name: format!("oidc:{}", idp.name),
        user_id: None,
        ip: None,
    };
    match store.provision_oidc_user(&new, &actor).await {
        Ok(user) => Ok(user),
        // Another request (or instance) provisioned the same person first: use that row.
        Err(StoreError::Conflict(_)) => store
            .user_by_identity(&id.issuer, &id.subject)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::internal("a provisioned user vanished")),
        Err(e) => Err(store_error(e)),
    }
}
