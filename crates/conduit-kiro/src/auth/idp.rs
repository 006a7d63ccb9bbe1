//! Entra ID ("external IdP") accounts (spec §9.3): where their refresh token may be sent.
//!
//! An Entra ID account gets into conduit by importing a token file of this shape
//! (`conduit accounts import FILE`, documented in docs/configuration.md):
//!
//! ```json
//! {"accountKind": "external_idp", "accessToken": "…", "refreshToken": "…",
//!  "expiresAt": "2026-12-01T10:00:00.000Z", "clientId": "<public client id>",
//!  "tenantId": "<tenant id or domain>", "scope": "<optional scopes>",
//!  "idpTokenUrl": "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token (optional)",
//!  "profileArn": "arn:aws:codewhisperer:…(optional: discovered when missing)"}
//! ```
//!
//! The refresh token goes only to a host under `microsoftonline.com`, `.us` or `.cn`, unless
//! `CONDUIT_IDP_URL` names the IdP explicitly.

use super::IdpSettings;

/// The default Entra ID token service.
pub const DEFAULT_IDP_URL: &str = "https://login.microsoftonline.com";
const ALLOWED_SUFFIXES: [&str; 3] = [
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.cn",
];

/// The token endpoint this account refreshes at, or why there is none.
pub(crate) fn token_url(override_base: Option<&str>, idp: &IdpSettings) -> Result<String, String> {
    let tenant = idp.tenant.clone().or_else(|| {
        let url = reqwest::Url::parse(idp.token_url.as_deref()?).ok()?;
        url.path_segments()?
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    if let Some(base) = override_base {
        let tenant = tenant.ok_or(
            "the Entra ID token file names no tenantId: add it (or idpTokenUrl) and import it again",
        )?;
        return Ok(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            base.trim_end_matches('/')
        ));
    }
    if let Some(full) = &idp.token_url {
        let url = reqwest::Url::parse(full)
            .map_err(|e| format!("the Entra ID idpTokenUrl {full:?} is not a URL ({e})"))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let allowed = url.scheme() == "https"
            && ALLOWED_SUFFIXES
                .iter()
                .any(|s| host == *s || host.ends_with(&format!(".{s}")));
        if !allowed {
            return Err(format!(
                "refusing to send the Entra ID refresh token to {host}: only https hosts under microsoftonline.com/.us/.cn are trusted; set CONDUIT_IDP_URL to use another identity provider"
            ));
        }
        return Ok(full.clone());
    }
    let tenant = tenant.ok_or(
        "the Entra ID token file names no tenantId: add it (or idpTokenUrl) and import it again",
    )?;
    Ok(format!("{DEFAULT_IDP_URL}/{tenant}/oauth2/v2.0/token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(url: Option<&str>, tenant: Option<&str>) -> IdpSettings {
        IdpSettings {
            token_url: url.map(str::to_string),
            tenant: tenant.map(str::to_string),
            scope: None,
        }
    }

    #[test]
    fn only_microsoft_hosts_get_the_refresh_token_unless_overridden() {
        let ok = |o: Option<&str>, i: IdpSettings| token_url(o, &i).unwrap();
        let err = |o: Option<&str>, i: IdpSettings| token_url(o, &i).unwrap_err();
        assert_eq!(
            ok(None, idp(None, Some("t1"))),
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
        );
        let us = "https://login.microsoftonline.us/t2/oauth2/v2.0/token";
        assert_eq!(ok(None, idp(Some(us), None)), us);
        assert!(err(
            None,
            idp(Some("https://evil.example/t/oauth2/v2.0/token"), None)
        )
        .contains("CONDUIT_IDP_URL"));
        assert!(err(
            None,
            idp(Some("https://microsoftonline.com.evil.example/x"), None)
        )
        .contains("refusing"));
        assert_eq!(
            ok(Some("http://127.0.0.1:9/"), idp(Some(us), None)),
            "http://127.0.0.1:9/t2/oauth2/v2.0/token",
            "the override keeps the tenant"
        );
        assert!(err(None, idp(None, None)).contains("tenantId"));
    }
}
