//! Single sign-on's environment (team mode): the identity provider named by `OIDC_ISSUER`, how
//! tokens are checked, and how long the gateway's own tokens live.

use std::time::Duration;

use conduit_store::{NewIdp, Role};

use crate::team::oidc::{allowed_url, normalise_domains};

/// `OIDC_*` and the gateway's token lifetimes.
#[derive(Clone)]
pub struct SsoConfig {
    /// `OIDC_ISSUER` and friends: one identity provider (id `env`) besides `/admin/idps`.
    pub env_idp: Option<NewIdp>,
    /// `OIDC_CLOCK_SKEW_SECONDS` (default 60): leeway on `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
    /// `OIDC_JWKS_REFRESH_SECONDS` (default 3600): how often every key set is fetched again.
    pub jwks_refresh: Duration,
    /// `ACCESS_TOKEN_TTL_SECONDS` (default 3600): the gateway's access tokens.
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_DAYS` (default 14): a sign-in's hard end, however often it refreshes.
    pub refresh_ttl: Duration,
    /// `SIGNING_KEY_ROTATE_DAYS` (default 30): when a new signing key takes over.
    pub signing_rotate: Duration,
}

impl std::fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConfig")
            .field("issuer", &self.env_idp.as_ref().map(|i| &i.issuer_url))
            .field("clock_skew", &self.clock_skew)
            .field("jwks_refresh", &self.jwks_refresh)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("signing_rotate", &self.signing_rotate)
            .finish_non_exhaustive()
    }
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(env: Env, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number(
    env: Env,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(format!(
                "{name} `{v}` must be a whole number from {} to {}",
                range.start(),
                range.end()
            )),
        },
    }
}

fn flag(env: Env, name: &str) -> Result<bool, String> {
    match var(env, name).as_deref() {
        None => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some("0" | "false" | "no") => Ok(false),
        Some(v) => Err(format!("{name} `{v}` must be true or false")),
    }
}

pub fn from_env(env: Env) -> Result<SsoConfig, String> {
    Ok(SsoConfig {
        env_idp: env_idp(env)?,
        clock_skew: Duration::from_secs(number(env, "OIDC_CLOCK_SKEW_SECONDS", 60, 0..=600)?),
        jwks_refresh: Duration::from_secs(number(
            env,
            "OIDC_JWKS_REFRESH_SECONDS",
            3600,
            60..=86_400,
        )?),
        access_ttl: Duration::from_secs(number(
            env,
            "ACCESS_TOKEN_TTL_SECONDS",
            3600,
            60..=86_400,
        )?),
        refresh_ttl: Duration::from_secs(
            number(env, "REFRESH_TOKEN_TTL_DAYS", 14, 1..=90)? * 86_400,
        ),
        signing_rotate: Duration::from_secs(
            number(env, "SIGNING_KEY_ROTATE_DAYS", 30, 1..=365)? * 86_400,
        ),
    })
}

fn env_idp(env: Env) -> Result<Option<NewIdp>, String> {
    let Some(issuer_url) = var(env, "OIDC_ISSUER") else {
        return Ok(None);
    };
    reqwest::Url::parse(&issuer_url)
        .map_err(|_| format!("OIDC_ISSUER `{issuer_url}` is not a URL"))?;
    if !allowed_url(&issuer_url) {
        return Err(format!(
            "OIDC_ISSUER `{issuer_url}` must be https (http only on localhost)"
        ));
    }
    let audience = var(env, "OIDC_AUDIENCE").ok_or(
        "OIDC_AUDIENCE is required with OIDC_ISSUER: the `aud` tokens from the IdP must carry \
         (usually the gateway's client id at the IdP)",
    )?;
    let default_role = match var(env, "OIDC_DEFAULT_ROLE") {
        None => Role::Member,
        Some(r) => Role::parse(&r)
            .ok_or_else(|| format!("OIDC_DEFAULT_ROLE `{r}` must be member, admin or auditor"))?,
    };
    let allowed_domains = var(env, "OIDC_ALLOWED_DOMAINS")
        .map(|v| normalise_domains(v.split(',')))
        .unwrap_or_default();
    Ok(Some(NewIdp {
        name: var(env, "OIDC_NAME").unwrap_or_else(|| "sso".to_string()),
        issuer_url,
        client_id: var(env, "OIDC_CLIENT_ID").or_else(|| Some(audience.clone())),
        audience,
        client_secret: var(env, "OIDC_CLIENT_SECRET"),
        auto_provision: flag(env, "OIDC_AUTO_PROVISION")?,
        default_role,
        allowed_domains,
        scopes: var(env, "OIDC_SCOPES"),
        enabled: true,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SsoConfig, String> {
        from_env(&crate::config::env_from(pairs))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert!(c.env_idp.is_none());
        assert_eq!(c.clock_skew, Duration::from_secs(60));
        assert_eq!(c.access_ttl, Duration::from_secs(3600));
        assert_eq!(c.refresh_ttl, Duration::from_secs(14 * 86_400));
    }

    #[test]
    fn env_idp_is_read() {
        let c = cfg(&[
            ("OIDC_ISSUER", "https://idp.example.com"),
            ("OIDC_AUDIENCE", "conduit"),
            ("OIDC_CLIENT_SECRET", "s3cret"),
            ("OIDC_AUTO_PROVISION", "true"),
            ("OIDC_DEFAULT_ROLE", "auditor"),
            ("OIDC_ALLOWED_DOMAINS", "@Corp.example, other.example"),
        ])
        .unwrap();
        let idp = c.env_idp.clone().unwrap();
        assert_eq!(idp.client_id.as_deref(), Some("conduit"));
        assert!(idp.auto_provision);
        assert_eq!(idp.default_role, Role::Auditor);
        assert_eq!(idp.allowed_domains, ["corp.example", "other.example"]);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_are_explained() {
        for (pairs, needle) in [
            (
                vec![("OIDC_ISSUER", "https://idp.example.com")],
                "OIDC_AUDIENCE",
            ),
            (
                vec![
                    ("OIDC_ISSUER", "http://idp.example.com"),
                    ("OIDC_AUDIENCE", "a"),
                ],
                "OIDC_ISSUER",
            ),
            (
                vec![("OIDC_CLOCK_SKEW_SECONDS", "9999")],
                "OIDC_CLOCK_SKEW_SECONDS",
            ),
            (
                vec![("ACCESS_TOKEN_TTL_SECONDS", "soon")],
                "ACCESS_TOKEN_TTL_SECONDS",
            ),
            (
                vec![
                    ("OIDC_ISSUER", "https://idp.example.com"),
                    ("OIDC_AUDIENCE", "a"),
                    ("OIDC_DEFAULT_ROLE", "root"),
                ],
                "OIDC_DEFAULT_ROLE",
            ),
        ] {
            let e = cfg(&pairs).err().unwrap();
            assert!(e.contains(needle), "{e}");
        }
    }
}
