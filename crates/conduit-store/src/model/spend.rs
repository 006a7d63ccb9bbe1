//! The spend rows (issue 14): ledger rows, period totals, report rows, spend limits and price
//! overrides. Money is integer: costs in nano-dollars, rates in micro-dollars per million
//! tokens, limit amounts in cents.

use serde::{Deserialize, Serialize};

/// One request in the ledger, every column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    /// A UUID v7 minted when the request was recorded: a retried batch inserts it once.
    pub id: String,
    /// When the request started (Unix milliseconds).
    pub at_ms: i64,
    pub user_id: Option<String>,
    /// The person's sign-in name, for reports.
    pub subject: Option<String>,
    pub team_id: Option<String>,
    pub key_id: Option<String>,
    pub upstream: Option<String>,
    /// The model the client asked for.
    pub model: String,
    /// The model the upstream was asked for.
    pub upstream_model: Option<String>,
    pub path: String,
    pub status: i64,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub input_tokens: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub cache_read: i64,
    pub output_tokens: i64,
    /// Kiro credits × 1e6.
    pub credits_micros: Option<i64>,
    /// The counters are estimated (Kiro), not reported.
    pub estimated: bool,
    /// `None`: no price known for the model.
    pub cost_nanos: Option<i64>,
    /// `list:<entry>`, `override:<upstream>/<model>`, `kiro-credit`, or `None`.
    pub priced_by: Option<String>,
}

/// What a batch adds to one running total (`spend_totals`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalDelta {
    /// `user:<id>`, `team:<id>`, `key:<id>` or `gateway`.
    pub scope: String,
    /// `daily`, `weekly`, `monthly` or `total`.
    pub period: String,
    /// The window's start (Unix seconds; 0 for `total`).
    pub period_start: i64,
    pub cost_nanos: i64,
}

/// One running total: a scope's spend in one period window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendTotal {
    pub scope: String,
    pub period: String,
    pub period_start: i64,
    pub cost_nanos: i64,
}

text_enum! {
    /// What a spend report groups by.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum GroupBy {
        User => "user",
        Team => "team",
        Key => "key",
        Model => "model",
        /// The UTC date of the request's start.
        Day => "day",
    }
}

/// One group of a spend report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// What people read: the subject (user), the team's name where known (team), the key id, the
    /// model, or the UTC date `YYYY-MM-DD` (day). `None`: requests without one (no user, team…).
    pub group: Option<String>,
    /// The id behind `group` (user, team and key groups), else `None`.
    pub id: Option<String>,
    pub requests: i64,
    pub input: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub cache_read: i64,
    pub output: i64,
    /// The sum of the known costs.
    pub cost_nanos: i64,
    /// Requests with no known price (not in `cost_nanos`).
    pub unpriced: i64,
    /// Requests whose counters are estimated.
    pub estimated: i64,
}

/// Which ledger rows a report counts, beyond its time window: all given filters at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendFilter {
    /// One user's requests only (the user's id).
    pub user_id: Option<String>,
    /// One team's requests only (the team's id).
    pub team_id: Option<String>,
    /// One model's requests only (the model the client asked for).
    pub model: Option<String>,
}

/// One UTC day's spend on one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayModel {
    /// The UTC date of the requests' start, `YYYY-MM-DD`.
    pub day: String,
    pub model: String,
    pub requests: i64,
    /// The sum of the known costs.
    pub cost_nanos: i64,
}

text_enum! {
    /// What a spend limit applies to. `user`, `rbac_group` and `organization` are per-seat
    /// defaults (Anthropic's Admin API); `team`, `key` and `gateway` are conduit's pools.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum SpendScope {
        /// `scope_id`: the person's subject.
        User => "user",
        /// `scope_id`: a team's name or id.
        RbacGroup => "rbac_group",
        /// `scope_id`: `""`.
        Organization => "organization",
        /// `scope_id`: the team's id (a pool: the sum of its members' spend).
        Team => "team",
        /// `scope_id`: the key's id.
        Key => "key",
        /// `scope_id`: `""` (a pool: everything).
        Gateway => "gateway",
    }
}

text_enum! {
    /// How often a spend limit resets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum SpendPeriod {
        Daily => "daily",
        Weekly => "weekly",
        Monthly => "monthly",
        /// Never resets.
        Total => "total",
    }
}

/// A spend limit (`spl_…`). Serialized with these field names in the audit's `before` and
/// `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendLimit {
    pub id: String,
    pub scope_type: SpendScope,
    /// `""` for the organization and the gateway.
    pub scope_id: String,
    pub period: SpendPeriod,
    /// Cents; `None` is an explicit "no cap" for this scope and period; `Some(0)` blocks.
    pub amount_cents: Option<i64>,
    pub currency: String,
    pub is_enabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A spend limit to create or replace (keyed on scope and period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSpendLimit {
    pub scope_type: SpendScope,
    pub scope_id: String,
    pub period: SpendPeriod,
    pub amount_cents: Option<i64>,
    pub currency: String,
    pub is_enabled: bool,
}

/// Which page of spend limits to list: newest first, at most `limit`, older than `after_id` or
/// newer than `before_id`, of one scope type only when given.
#[derive(Debug, Clone, Default)]
pub struct LimitPage {
    pub limit: i64,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
    pub scope_type: Option<SpendScope>,
}

/// A page of spend limits, and whether more lie beyond it in the direction paged.
#[derive(Debug, Clone)]
pub struct LimitList {
    pub data: Vec<SpendLimit>,
    pub has_more: bool,
}

/// An admin price override: the five rates, micro-dollars per million tokens. Serialized with
/// these field names in the audit's `before` and `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceOverride {
    /// An upstream's name, or `*` for any.
    pub upstream: String,
    /// A model id prefix.
    pub model: String,
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub write_5m: i64,
    pub write_1h: i64,
    /// Unix seconds (ignored on upsert: the store sets it).
    pub updated_at: i64,
}
