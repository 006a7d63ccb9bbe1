//! The scheduler's vocabulary: its configuration, why something cools down ([`Reason`]), the
//! persisted [`Health`] and [`Sticky`] sessions, the [`AccountState`] people see, and the
//! [`Wording`] of its messages.

use std::time::Duration;

use conduit_core::FailoverCause;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How cooldowns are measured and how many sessions are remembered.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// First cooldown after a 429 / 5xx / credential failure; doubles per consecutive failure.
    pub cooldown_base: Duration,
    /// Longest cooldown for 429 / 5xx / credential failures.
    pub cooldown_cap: Duration,
    /// Cooldown after a monthly-quota error when the next reset is not known.
    pub quota_cooldown: Duration,
    /// Cooldown after the upstream's risk control limited an account ("suspicious activity").
    pub risk_cooldown: Duration,
    /// Cooldown after a credential failure, when it should not follow the 429 / 5xx doubling.
    pub credentials_cooldown: Option<Duration>,
    /// Sessions remembered at most (least recently used are forgotten first).
    pub max_sessions: usize,
    /// A session unused this long is forgotten.
    pub session_ttl: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            cooldown_base: Duration::from_secs(60),
            cooldown_cap: Duration::from_secs(3600),
            quota_cooldown: Duration::from_secs(3600),
            risk_cooldown: Duration::from_secs(600),
            credentials_cooldown: None,
            max_sessions: 10_000,
            session_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why an account is cooling down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Quota,
    Throttled,
    ServerError,
    Credentials,
    /// The upstream's risk control ("suspicious activity"): a long cooldown, never retried on it.
    RiskControl,
    /// The upstream suspended the account: disabled until its credentials change.
    Suspended,
    /// No answer in time (connect, first byte).
    Timeout,
}

impl Reason {
    /// The account-level reason of a failover cause; `None` (no timeout or model the next
    /// account would fix) keeps the request on this account.
    pub fn of(cause: FailoverCause) -> Option<Reason> {
        match cause {
            FailoverCause::Quota => Some(Reason::Quota),
            FailoverCause::Throttled => Some(Reason::Throttled),
            FailoverCause::ServerError => Some(Reason::ServerError),
            FailoverCause::Credentials => Some(Reason::Credentials),
            FailoverCause::RiskControl => Some(Reason::RiskControl),
            FailoverCause::Suspended => Some(Reason::Suspended),
            FailoverCause::Timeout | FailoverCause::ModelUnavailable => None,
        }
    }

    /// The reason in words; `upstream` names the service (`Kiro`).
    pub fn describe(self, upstream: &str) -> String {
        match self {
            Reason::Quota => "monthly quota used up".into(),
            Reason::Throttled => "throttled".into(),
            Reason::ServerError => format!("{upstream} failing (5xx)"),
            Reason::Credentials => "credentials refused".into(),
            Reason::RiskControl => {
                format!("limited by {upstream}'s risk control (suspicious activity)")
            }
            Reason::Suspended => format!("suspended by {upstream}"),
            Reason::Timeout => "not answering in time".into(),
        }
    }

    /// The reason a router or pool records for a failover cause (`None`: nothing to record).
    pub fn of_any(cause: FailoverCause) -> Option<Reason> {
        match cause {
            FailoverCause::Timeout => Some(Reason::Timeout),
            FailoverCause::ModelUnavailable => None,
            other => Reason::of(other),
        }
    }

    /// Whether the account must not be tried even when it is the only one (never hammer).
    pub fn hard(self) -> bool {
        matches!(self, Reason::RiskControl | Reason::Suspended)
    }
}

/// An account's health as the scheduler sees it (persisted in `state.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub cooldown_until: Option<OffsetDateTime>,
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Consecutive failover-worthy failures; reset by a success.
    #[serde(default)]
    pub failures: u32,
    /// The next quota reset, when a usage query told us.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_reset: Option<OffsetDateTime>,
    /// Kiro suspended the account: it is not used again until its credentials change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspension>,
    /// Kiro's words about the last failure (for `status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Credits spent on this account (sum of Kiro's `meteringEvent`s) since it was added.
    #[serde(default)]
    pub credits_used: f64,
}

/// A suspension, and which credentials it was seen with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// A hash of the refresh token the suspension was seen with; other credentials (a new
    /// sign-in) lift it.
    pub fingerprint: Option<String>,
}

/// An account's state as `status`, `doctor` and `/v1/usage` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Active,
    CoolingDown,
    Quota,
    Suspended,
    /// Its credentials are dead (the refresh token was refused): `conduit login`.
    Disabled,
}

/// A session's accounts: where it started (and returns to) and where it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sticky {
    pub home: String,
    pub current: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_used: OffsetDateTime,
}

/// How the scheduled things are named in the messages people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    /// The service (`Kiro`), in reasons such as "Kiro failing (5xx)".
    pub upstream: String,
    /// When the only one is unavailable: "the Kiro account is unavailable".
    pub one_unavailable: String,
    /// The plural: "Kiro accounts".
    pub many: String,
    /// What to do: "Wait, or add an account with `conduit login`."
    pub advice: String,
}

impl Default for Wording {
    fn default() -> Self {
        Self {
            upstream: "the upstream".into(),
            one_unavailable: "the upstream is unavailable".into(),
            many: "upstreams".into(),
            advice: "Wait and try again.".into(),
        }
    }
}
