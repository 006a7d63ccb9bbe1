//! The browser sign-in: authorization code + PKCE (RFC 6749 §4.1, 7636) with a loopback redirect
//! (RFC 8252), against the team gateway (its access token is what the helper prints) or an
//! OpenID provider directly (its `id_token` is). `conduit token login` runs it, and so does the
//! helper when nothing usable is stored and a person is there.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::Value;

use super::browser;
use super::loopback::{Callback, Listener};
use super::oauth::{self, Client, Metadata, TokenAnswer};
use super::pkce::Pkce;
use super::profile::Mode;
use super::secret::Secrets;
use crate::cli::output::note;

/// How long the browser has to come back.
pub const TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// What IdP mode asks for: an ID token with the person's email, and a refresh token.
pub const IDP_SCOPE: &str = "openid email profile offline_access";

/// Where a sign-in goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub mode: Mode,
    /// Gateway mode: the gateway's base URL.
    pub gateway: Option<String>,
    pub client_id: String,
    pub meta: Metadata,
    pub ca_cert: Option<String>,
}

impl Target {
    /// The URL the HTTP client is built for (the gateway, else the issuer).
    pub fn base(&self) -> &str {
        self.gateway.as_deref().unwrap_or(&self.meta.issuer)
    }

    pub fn client(&self) -> anyhow::Result<Client> {
        Client::new(self.base(), self.ca_cert.as_deref())
    }
}

/// What a sign-in or a refresh gave.
pub struct Issued {
    pub secrets: Secrets,
    /// `expires_in` (else the ID token's lifetime).
    pub lifetime_secs: u64,
    /// Who, when the answer says (an ID token's email).
    pub user: Option<String>,
}

/// Sign in through the browser; the tokens.
pub fn sign_in(client: &Client, target: &Target, no_browser: bool) -> anyhow::Result<Issued> {
    let pkce = Pkce::generate();
    let listener = Listener::bind()?;
    let redirect_uri = listener.redirect_uri();
    let nonce = (target.mode == Mode::Idp).then(|| Pkce::generate().state);
    let url = authorize_url(target, &redirect_uri, &pkce, nonce.as_deref())?;
    let env = |k: &str| crate::cli::env(k);
    let opened = !no_browser && browser::open(&env, &url);
    let place = target.base();
    if opened {
        note(format!(
            "Signing in to {place} in your browser. If it did not open, visit:\n  {url}"
        ));
    } else {
        note(format!(
            "To sign in to {place}, open this URL in a browser:\n  {url}"
        ));
    }
    let callback = listener.wait(&pkce.state, Instant::now() + TIMEOUT)?;
    let code = match callback {
        Callback::Code { code, iss } => {
            if let Some(iss) =
                iss.filter(|i| i.trim_end_matches('/') != target.meta.issuer.trim_end_matches('/'))
            {
                bail!(
                    "the sign-in answer came from the issuer {iss:?}, not {:?}: refused",
                    target.meta.issuer
                );
            }
            code
        }
        Callback::Error { error, description } if error == "access_denied" => {
            bail!(
                "the sign-in was cancelled in the browser{}",
                description.map(|d| format!(" ({d})")).unwrap_or_default()
            )
        }
        Callback::Error { error, description } => bail!(
            "the sign-in failed: {error}{}",
            description.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", target.client_id.as_str()),
    ];
    let answer = client
        .token(&target.meta.token_endpoint, &form)
        .map_err(|e| {
            anyhow!(
                "{} did not give tokens for the code: {e}",
                target.meta.token_endpoint
            )
        })?;
    let issued = issued(target.mode, answer, None, super::unix_now())?;
    if let (Some(nonce), Some(claims)) = (&nonce, oauth::jwt_claims(&issued.secrets.access_token)) {
        if claims["nonce"].as_str() != Some(nonce) {
            bail!("the IdP's ID token does not carry this sign-in's nonce: refused");
        }
    }
    Ok(issued)
}

/// The authorization request's URL.
pub fn authorize_url(
    target: &Target,
    redirect_uri: &str,
    pkce: &Pkce,
    nonce: Option<&str>,
) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(&target.meta.authorization_endpoint).map_err(|e| {
        anyhow!(
            "the authorization endpoint {:?} is not a URL: {e}",
            target.meta.authorization_endpoint
        )
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &target.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &pkce.state);
        if target.mode == Mode::Idp {
            // OpenID Connect Core §11: offline_access needs prompt=consent.
            q.append_pair("scope", IDP_SCOPE)
                .append_pair("prompt", "consent");
        }
        if let Some(nonce) = nonce {
            q.append_pair("nonce", nonce);
        }
    }
    Ok(url.into())
}

/// The tokens of a token answer, at `now`: the gateway's access token, or the IdP's ID token.
/// `old_refresh` stays when a refresh answer brings no new one (a non-rotating IdP).
pub fn issued(
    mode: Mode,
    answer: TokenAnswer,
    old_refresh: Option<&str>,
    now: i64,
) -> anyhow::Result<Issued> {
    let refresh_token = answer
        .refresh_token
        .filter(|r| !r.is_empty())
        .or_else(|| old_refresh.map(str::to_string));
    let expires_in = answer.expires_in.filter(|s| *s > 0);
    match mode {
        Mode::Gateway => {
            let access_token = answer
                .access_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| anyhow!("the token answer has no access_token"))?;
            let lifetime = expires_in.unwrap_or(3600);
            Ok(Issued {
                secrets: Secrets {
                    access_token,
                    refresh_token,
                    expires_at: now.saturating_add(lifetime),
                },
                lifetime_secs: lifetime.unsigned_abs(),
                user: None,
            })
        }
        Mode::Idp => {
            let id_token = answer
                .id_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| anyhow!("the IdP's token answer has no id_token"))?;
            let claims = oauth::jwt_claims(&id_token).unwrap_or(Value::Null);
            let exp = claims["exp"].as_i64();
            let expires_at = exp
                .or_else(|| expires_in.map(|s| now.saturating_add(s)))
                .unwrap_or(now);
            let lifetime = match (exp, claims["iat"].as_i64()) {
                (Some(exp), Some(iat)) if exp > iat => exp - iat,
                _ => expires_in.unwrap_or(expires_at - now),
            };
            let user = ["email", "preferred_username", "sub"]
                .iter()
                .find_map(|k| claims[*k].as_str().map(str::to_string));
            Ok(Issued {
                secrets: Secrets {
                    access_token: id_token,
                    refresh_token,
                    expires_at,
                },
                lifetime_secs: lifetime.max(0).unsigned_abs(),
                user,
            })
        }
    }
}

/// A refresh grant with `refresh_token`.
pub fn refresh(
    client: &Client,
    mode: Mode,
    token_endpoint: &str,
    client_id: &str,
    refresh_token: &str,
) -> Result<Issued, oauth::TokenError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    let answer = client.token(token_endpoint, &form)?;
    issued(mode, answer, Some(refresh_token), super::unix_now())
        .map_err(|e| oauth::TokenError::Unavailable(format!("{e:#}")))
}

/// Who the gateway says the access token belongs to: email, else name, else subject.
pub fn who(me: &Value) -> Option<String> {
    ["email", "name", "subject"].iter().find_map(|k| {
        me[*k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(mode: Mode) -> Target {
        Target {
            mode,
            gateway: Some("https://gw".into()),
            client_id: "conduit-cli".into(),
            meta: Metadata {
                issuer: "https://gw".into(),
                authorization_endpoint: "https://gw/oauth/authorize?tenant=x".into(),
                token_endpoint: "https://gw/oauth/token".into(),
                revocation_endpoint: None,
            },
            ca_cert: None,
        }
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let u = reqwest::Url::parse(url).unwrap();
        u.query_pairs().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn the_authorization_request_names_code_pkce_and_the_loopback_redirect() {
        let pkce = Pkce::generate();
        let redirect = "http://127.0.0.1:4242/callback";
        let url = authorize_url(&target(Mode::Gateway), redirect, &pkce, None).unwrap();
        assert!(
            url.starts_with("https://gw/oauth/authorize?tenant=x&"),
            "{url}"
        );
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("conduit-cli"));
        assert_eq!(get("redirect_uri"), Some(redirect));
        assert_eq!(get("code_challenge"), Some(pkce.challenge.as_str()));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("state"), Some(pkce.state.as_str()));
        assert_eq!((get("scope"), get("nonce")), (None, None));
        assert!(!url.contains(&pkce.verifier), "the verifier never leaves");

        let url = authorize_url(&target(Mode::Idp), redirect, &pkce, Some("n1")).unwrap();
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("scope"), Some(IDP_SCOPE));
        assert_eq!((get("prompt"), get("nonce")), (Some("consent"), Some("n1")));
    }

    fn answer(v: Value) -> TokenAnswer {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn token_answers_become_what_the_helper_prints_and_when_it_expires() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let now = 1_000_000;
        let a = issued(
            Mode::Gateway,
            answer(serde_json::json!({"access_token": "at", "expires_in": 3600, "refresh_token": "rt"})),
            None,
            now,
        )
        .unwrap();
        assert_eq!(a.secrets.access_token, "at");
        assert_eq!(a.secrets.refresh_token.as_deref(), Some("rt"));
        assert_eq!((a.secrets.expires_at, a.lifetime_secs), (now + 3600, 3600));

        // A refresh answer without a new refresh token keeps the old one.
        let a = issued(
            Mode::Gateway,
            answer(serde_json::json!({"access_token": "at2", "expires_in": 60})),
            Some("old"),
            now,
        )
        .unwrap();
        assert_eq!(a.secrets.refresh_token.as_deref(), Some("old"));

        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"exp": now + 900, "iat": now - 100, "email": "a@x"}).to_string(),
        );
        let id = format!("h.{claims}.s");
        let a = issued(
            Mode::Idp,
            answer(
                serde_json::json!({"access_token": "idp-at", "id_token": id, "expires_in": 3600}),
            ),
            None,
            now,
        )
        .unwrap();
        assert_eq!(a.secrets.access_token, id, "IdP mode prints the ID token");
        assert_eq!((a.secrets.expires_at, a.lifetime_secs), (now + 900, 1000));
        assert_eq!(a.user.as_deref(), Some("a@x"));

        let missing = [
            (Mode::Gateway, serde_json::json!({"id_token": "x"})),
            (Mode::Idp, serde_json::json!({"access_token": "x"})),
        ];
        for (mode, v) in missing {
            assert!(issued(mode, answer(v), None, now).is_err(), "{mode:?}");
        }
    }
}
