//! Team mode's environment (`conduit serve --team`): where the store is, how long sessions
//! live, and the public URLs whose host names the Host guard accepts.

use std::time::Duration;

/// What team mode reads from the environment besides the gateway's own settings.
#[derive(Clone)]
pub struct TeamConfig {
    /// `DATABASE_URL` (`postgres://…`); `None`: SQLite at `$CONDUIT_HOME/data/team.db`.
    pub database_url: Option<String>,
    /// `SESSION_TTL_HOURS` (default 24).
    pub session_ttl: Duration,
    /// `PORTAL_IDLE_MINUTES` (default 30): a portal session unused this long is ended.
    pub portal_idle: Duration,
    /// Host names (`name` or `name:port`) of `CONDUIT_PUBLIC_URL`'s comma-separated URLs.
    pub public_hosts: Vec<String>,
    /// The first `CONDUIT_PUBLIC_URL` entry without a trailing `/`: the origin the gateway
    /// names in redirect URIs and its sign-in metadata (else the request's own).
    pub public_url: Option<String>,
    /// `OIDC_*` and the gateway's token lifetimes.
    pub sso: super::sso::SsoConfig,
    /// `SPEND_*`: budget time zone, ledger batching, threshold notices.
    pub spend: super::spend::SpendConfig,
    /// `REDIS_URL`: count the rate limits in Redis (else in the store).
    pub redis_url: Option<String>,
    /// `LIMITS_FAIL_MODE=open`: admit rate-limited callers uncounted when the shared counter is
    /// unreachable (default `closed`: refuse them with 503).
    pub limits_fail_open: bool,
}

impl std::fmt::Debug for TeamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // DATABASE_URL may carry a password.
        f.debug_struct("TeamConfig")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("session_ttl", &self.session_ttl)
            .field("portal_idle", &self.portal_idle)
            .field("public_hosts", &self.public_hosts)
            .field("public_url", &self.public_url)
            .field("sso", &self.sso)
            .field("spend", &self.spend)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("limits_fail_open", &self.limits_fail_open)
            .finish()
    }
}

pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<TeamConfig, String> {
    let database_url = env("DATABASE_URL").filter(|u| !u.trim().is_empty());
    let session_ttl = match env("SESSION_TTL_HOURS").filter(|v| !v.is_empty()) {
        None => Duration::from_secs(24 * 3600),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(h) if (1..=24 * 365).contains(&h) => Duration::from_secs(h * 3600),
            _ => {
                return Err(format!(
                    "SESSION_TTL_HOURS `{v}` must be a whole number of hours from 1 to 8760"
                ))
            }
        },
    };
    let portal_idle = match env("PORTAL_IDLE_MINUTES").filter(|v| !v.is_empty()) {
        None => Duration::from_secs(30 * 60),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(m) if (1..=24 * 60).contains(&m) => Duration::from_secs(m * 60),
            _ => {
                return Err(format!(
                    "PORTAL_IDLE_MINUTES `{v}` must be a whole number of minutes from 1 to 1440"
                ))
            }
        },
    };
    let raw_public = env("CONDUIT_PUBLIC_URL").unwrap_or_default();
    let public_hosts = public_hosts(&raw_public)?;
    let public_url = raw_public
        .split(',')
        .map(str::trim)
        .find(|e| !e.is_empty())
        .map(|e| e.trim_end_matches('/').to_string());
    let redis_url = env("REDIS_URL").filter(|u| !u.trim().is_empty());
    let limits_fail_open = match env("LIMITS_FAIL_MODE").as_deref().map(str::trim) {
        None | Some("") | Some("closed") => false,
        Some("open") => true,
        Some(other) => {
            return Err(format!(
                "LIMITS_FAIL_MODE `{other}` must be `closed` (refuse rate-limited requests while \
                 the shared counter is unreachable) or `open` (admit them uncounted)"
            ))
        }
    };
    Ok(TeamConfig {
        database_url,
        session_ttl,
        portal_idle,
        public_hosts,
        public_url,
        sso: super::sso::from_env(env)?,
        spend: super::spend::from_env(env)?,
        redis_url,
        limits_fail_open,
    })
}

/// `https://gw.example.com, https://gw2.example.com:8443/` → `gw.example.com`,
/// `gw2.example.com:8443` (a name without a port matches any port).
fn public_hosts(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || {
            format!(
                "CONDUIT_PUBLIC_URL entry `{entry}` is not an http(s) URL: give the URLs clients \
                 use, comma-separated, e.g. https://gw.example.com"
            )
        };
        let url = reqwest::Url::parse(entry).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad());
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let host = host.to_ascii_lowercase();
        out.push(match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<TeamConfig, String> {
        from_env(&crate::config::env_from(pairs))
    }

    #[test]
    fn defaults_and_values() {
        let c = cfg(&[]).unwrap();
        assert!(c.database_url.is_none());
        assert_eq!(c.session_ttl, Duration::from_secs(86_400));
        assert_eq!(c.portal_idle, Duration::from_secs(1800));
        assert!(c.public_hosts.is_empty());
        assert!(c.redis_url.is_none());
        assert!(!c.limits_fail_open);
        let c = cfg(&[
            ("DATABASE_URL", "postgres://u:secret@db/x"),
            ("SESSION_TTL_HOURS", "8"),
            ("PORTAL_IDLE_MINUTES", "15"),
            ("REDIS_URL", "redis://:hunter2@cache:6379/0"),
            ("LIMITS_FAIL_MODE", "open"),
            (
                "CONDUIT_PUBLIC_URL",
                "https://GW.example.com/, http://gw2.example.com:8443,,",
            ),
        ])
        .unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(8 * 3600));
        assert_eq!(c.portal_idle, Duration::from_secs(15 * 60));
        assert_eq!(c.public_hosts, ["gw.example.com", "gw2.example.com:8443"]);
        assert!(!format!("{c:?}").contains("secret"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            c.redis_url.as_deref(),
            Some("redis://:hunter2@cache:6379/0")
        );
        assert!(c.limits_fail_open);
    }

    #[test]
    fn bad_values_are_explained() {
        for (k, v) in [
            ("SESSION_TTL_HOURS", "0"),
            ("SESSION_TTL_HOURS", "a day"),
            ("PORTAL_IDLE_MINUTES", "0"),
            ("PORTAL_IDLE_MINUTES", "1441"),
            ("CONDUIT_PUBLIC_URL", "gw.example.com"),
            ("CONDUIT_PUBLIC_URL", "ftp://gw.example.com"),
            ("LIMITS_FAIL_MODE", "sometimes"),
        ] {
            let e = cfg(&[(k, v)]).err().unwrap();
            assert!(e.contains(k), "{e}");
        }
    }
}
