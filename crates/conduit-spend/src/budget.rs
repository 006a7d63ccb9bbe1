//! Spend limits: which caps bind a caller, how much is left, and whether the next request is
//! refused. Pure: totals and the clock are passed in.
//!
//! Two kinds of scope (design "Semantics"; spec §5.5):
//! - **Per seat** — `user`, `rbac_group`, `organization`: one cap per person and period, compared
//!   with that person's own spend. The person's `user` limit decides; else the most restrictive
//!   `rbac_group` limit of their team (matched by team id or team name); else the
//!   `organization` limit; else none. A limit with no amount is an explicit "no cap" at its
//!   level and stops the fall-through.
//! - **Pools** — `team`, `key`, `gateway`: compared with the pool's own total (a team's total is
//!   the sum of its members' spend, whichever key they used).
//!
//! A cap is reached when spend ≥ cap, so a cap of 0 blocks everything. Disabled limits are
//! ignored as if absent.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::period::{format_local, Period};

/// What a limit applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Scope {
    /// Per seat: one person (the user id, the OIDC subject's user).
    User(String),
    /// Per seat: the default for members of a team, named by team id or team name.
    RbacGroup(String),
    /// Per seat: the default for everyone.
    Organization,
    /// Pool: all members of the team together.
    Team(String),
    /// Pool: one API key.
    Key(String),
    /// Pool: everything through this gateway.
    Gateway,
}

impl Scope {
    /// The `scope_type` column: `user`, `rbac_group`, `organization`, `team`, `key`, `gateway`.
    pub fn scope_type(&self) -> &'static str {
        match self {
            Scope::User(_) => "user",
            Scope::RbacGroup(_) => "rbac_group",
            Scope::Organization => "organization",
            Scope::Team(_) => "team",
            Scope::Key(_) => "key",
            Scope::Gateway => "gateway",
        }
    }

    /// The `scope_id` column (`""` for organization and gateway).
    pub fn scope_id(&self) -> &str {
        match self {
            Scope::User(id) | Scope::RbacGroup(id) | Scope::Team(id) | Scope::Key(id) => id,
            Scope::Organization | Scope::Gateway => "",
        }
    }
}

/// One spend limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// `spl_…`.
    pub id: String,
    /// What it applies to.
    pub scope: Scope,
    /// When it resets.
    pub period: Period,
    /// The cap in nano-dollars; `None` = explicit no cap for this scope and period.
    pub amount_nanos: Option<i64>,
    /// Disabled limits are ignored.
    pub enabled: bool,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Caller {
    /// The person; `None` for a key that belongs to no one (per-seat limits then do not apply).
    pub user_id: Option<String>,
    /// The person's team id.
    pub team_id: Option<String>,
    /// The person's team name (`rbac_group` limits may name it).
    pub team_name: Option<String>,
    /// The key of this request.
    pub key_id: String,
}

/// The `spend_totals.scope` of a user's own spend.
pub fn user_key(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The `spend_totals.scope` of a team's pooled spend.
pub fn team_key(team_id: &str) -> String {
    format!("team:{team_id}")
}

/// The `spend_totals.scope` of a key's spend.
pub fn key_key(key_id: &str) -> String {
    format!("key:{key_id}")
}

/// The `spend_totals.scope` of all spend.
pub const GATEWAY_KEY: &str = "gateway";

/// Spend so far, in nano-dollars, of a scope key (`user:<id>`, `team:<id>`, `key:<id>`,
/// `gateway`) in the window of `period` that starts at `period_start` (0 for total).
pub trait Totals {
    /// The total; 0 when nothing was spent.
    fn total(&self, scope_key: &str, period: Period, period_start: i64) -> i64;
}

impl<F: Fn(&str, Period, i64) -> i64> Totals for F {
    fn total(&self, scope_key: &str, period: Period, period_start: i64) -> i64 {
        self(scope_key, period, period_start)
    }
}

/// A cap that binds the caller and where its spend stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// The limit.
    pub limit_id: String,
    /// Whose spend it is compared with (`user:<id>` for per-seat limits).
    pub scope_key: String,
    /// The limit's period.
    pub period: Period,
    /// The cap, nano-dollars.
    pub cap_nanos: i64,
    /// Spend in the current window, nano-dollars.
    pub spent_nanos: i64,
    /// `cap − spent`, never below 0.
    pub remaining_nanos: i64,
    /// `spent / cap` (1.0 for a cap of 0 or less); above 1.0 once over.
    pub utilization: f64,
    /// When the window ends (Unix s); `None` for `total`.
    pub reset_s: Option<i64>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The limit reached.
    pub limit_id: String,
    /// Its period.
    pub period: Period,
    /// When it resets (Unix s); `None` for `total`.
    pub reset_s: Option<i64>,
    /// `spend limit reached (daily; resets 2026-12-07 00:00 UTC)`.
    pub message: String,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// Set when a cap is reached; of several, the one that resets last (so `retry-after` is
    /// when a retry can succeed).
    pub blocked: Option<Block>,
    /// The cap with the least money left (ties: the fuller one) — `x-conduit-budget-remaining-usd`.
    pub tightest: Option<Headroom>,
    /// The cap with the highest utilization (ties: the one with less left) — what Claude Code's
    /// 75%/95% warnings look at.
    pub fullest: Option<Headroom>,
    /// Every cap that binds the caller, in `limits` order (pools) after per-seat caps by period.
    pub caps: Vec<Headroom>,
}

/// The caps that bind `caller`, each with the scope key its spend is read from: per period the
/// caller's effective per-seat cap (if capped), then every capped pool limit that names the
/// caller's team or key, or the gateway.
pub fn applicable<'a>(limits: &'a [Limit], caller: &Caller) -> Vec<(&'a Limit, String)> {
    let mut out = Vec::new();
    if let Some(user) = &caller.user_id {
        for period in Period::ALL {
            if let Some(limit) = per_seat(limits, caller, user, period) {
                if limit.amount_nanos.is_some() {
                    out.push((limit, user_key(user)));
                }
            }
        }
    }
    for limit in limits
        .iter()
        .filter(|l| l.enabled && l.amount_nanos.is_some())
    {
        let key = match &limit.scope {
            Scope::Team(t) if caller.team_id.as_deref() == Some(t) => team_key(t),
            Scope::Key(k) if *k == caller.key_id => key_key(k),
            Scope::Gateway => GATEWAY_KEY.to_owned(),
            _ => continue,
        };
        out.push((limit, key));
    }
    out
}

/// The per-seat limit that decides `user`'s cap for `period` (its amount may be `None`: an
/// explicit no cap): their own `user` limit, else the most restrictive `rbac_group` limit of
/// their team (all "no cap": the first), else the `organization` limit. Disabled limits count as
/// absent. `user` is compared with the id in [`Scope::User`], whatever the caller keys people by.
pub fn per_seat<'a>(
    limits: &'a [Limit],
    caller: &Caller,
    user: &str,
    period: Period,
) -> Option<&'a Limit> {
    let live = || limits.iter().filter(|l| l.enabled && l.period == period);
    if let Some(own) = live().find(|l| matches!(&l.scope, Scope::User(u) if u == user)) {
        return Some(own);
    }
    let in_group =
        |g: &String| caller.team_id.as_ref() == Some(g) || caller.team_name.as_ref() == Some(g);
    let groups: Vec<&Limit> = live()
        .filter(|l| matches!(&l.scope, Scope::RbacGroup(g) if in_group(g)))
        .collect();
    if let Some(first) = groups.first() {
        let capped = groups
            .iter()
            .filter_map(|l| l.amount_nanos.map(|a| (a, *l)))
            .min_by_key(|(a, _)| *a)
            .map(|(_, l)| l);
        return Some(capped.unwrap_or(first));
    }
    live().find(|l| l.scope == Scope::Organization)
}

/// Evaluates every cap that binds `caller` at `now_s` (Unix seconds) in `tz`.
pub fn evaluate<T: Totals + ?Sized>(
    limits: &[Limit],
    caller: &Caller,
    totals: &T,
    now_s: i64,
    tz: &TimeZone,
) -> Verdict {
    let mut verdict = Verdict::default();
    let mut blocking: Option<&Headroom> = None;
    let caps: Vec<Headroom> = applicable(limits, caller)
        .into_iter()
        .filter_map(|(limit, scope_key)| {
            let cap = limit.amount_nanos?;
            let (start, reset_s) = limit.period.window(now_s, tz);
            let spent = totals.total(&scope_key, limit.period, start);
            Some(headroom(limit, scope_key, cap, spent, reset_s))
        })
        .collect();
    for h in caps.iter().filter(|h| h.spent_nanos >= h.cap_nanos) {
        // `None` (total) never resets: the latest of all.
        let later =
            |a: Option<i64>, b: Option<i64>| a.map_or(b.is_some(), |a| b.is_some_and(|b| a > b));
        if blocking.is_none_or(|b| later(h.reset_s, b.reset_s)) {
            blocking = Some(h);
        }
    }
    verdict.blocked = blocking.map(|h| Block {
        limit_id: h.limit_id.clone(),
        period: h.period,
        reset_s: h.reset_s,
        message: block_message(h.period, h.reset_s, tz),
    });
    verdict.tightest = caps
        .iter()
        .min_by(|a, b| {
            a.remaining_nanos
                .cmp(&b.remaining_nanos)
                .then(b.utilization.total_cmp(&a.utilization))
        })
        .cloned();
    verdict.fullest = caps
        .iter()
        .min_by(|a, b| {
            b.utilization
                .total_cmp(&a.utilization)
                .then(a.remaining_nanos.cmp(&b.remaining_nanos))
        })
        .cloned();
    verdict.caps = caps;
    verdict
}

fn headroom(
    limit: &Limit,
    scope_key: String,
    cap: i64,
    spent: i64,
    reset_s: Option<i64>,
) -> Headroom {
    let utilization = if cap <= 0 {
        1.0
    } else {
        spent as f64 / cap as f64
    };
    Headroom {
        limit_id: limit.id.clone(),
        scope_key,
        period: limit.period,
        cap_nanos: cap,
        spent_nanos: spent,
        remaining_nanos: cap.saturating_sub(spent).max(0),
        utilization,
        reset_s,
    }
}

/// `spend limit reached (daily; resets 2026-12-07 00:00 UTC)` — the reset in `tz` with its
/// abbreviation — or `spend limit reached (total; does not reset)`.
pub fn block_message(period: Period, reset_s: Option<i64>, tz: &TimeZone) -> String {
    match reset_s {
        Some(reset) => format!(
            "spend limit reached ({period}; resets {})",
            format_local(reset, tz)
        ),
        None => format!("spend limit reached ({period}; does not reset)"),
    }
}

/// The thresholds (percent of `cap_nanos`) that spend passed going from `before_nanos` to
/// `after_nanos`: those with `before < t% of cap <= after`, in the order given. Nothing for a
/// cap of 0 or less (such a cap is reached before any spend).
pub fn crossed(before_nanos: i64, after_nanos: i64, cap_nanos: i64, thresholds: &[u8]) -> Vec<u8> {
    if cap_nanos <= 0 {
        return Vec::new();
    }
    let (before, after) = (
        i128::from(before_nanos) * 100,
        i128::from(after_nanos) * 100,
    );
    thresholds
        .iter()
        .copied()
        .filter(|&t| {
            let mark = i128::from(t) * i128::from(cap_nanos);
            before < mark && mark <= after
        })
        .collect()
}

#[cfg(test)]
mod tests;
