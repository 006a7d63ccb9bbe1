//! Spend limits as the store holds them, turned into what the budget check compares: a user
//! limit names its person by subject (the Admin API's `user_id`) and is resolved to the user's
//! id here; team names are kept for `rbac_group` limits that name a team by name.

use std::collections::HashMap;

use conduit_core::Error;
use conduit_spend::budget::{Caller, Limit, Scope};
use conduit_spend::Period;
use conduit_store::{SpendLimit, SpendScope, Store};

use crate::team::api::store_error;
use crate::team::Principal;

/// Every spend limit, and team names by id.
#[derive(Default)]
pub struct LoadedLimits {
    list: Vec<Limit>,
    team_names: HashMap<String, String>,
}

impl LoadedLimits {
    pub fn new(list: Vec<Limit>, team_names: HashMap<String, String>) -> Self {
        Self {
            list: list.into_iter().filter(|l| l.enabled).collect(),
            team_names,
        }
    }

    /// No enabled limit at all: the check costs nothing.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &[Limit] {
        &self.list
    }

    /// The budget check's view of a caller.
    pub fn caller(&self, p: &Principal) -> Caller {
        Caller {
            user_id: p.user_id.clone(),
            team_id: p.team_id.clone(),
            team_name: p
                .team_id
                .as_ref()
                .and_then(|t| self.team_names.get(t).cloned()),
            key_id: p.credential_id.clone(),
        }
    }

    /// The capped limits that count `p`'s spend, each with the scope whose total it is
    /// compared with (per-seat limits: the person's own).
    pub fn applicable(&self, p: &Principal) -> Vec<(&Limit, String)> {
        conduit_spend::budget::applicable(&self.list, &self.caller(p))
    }
}

/// Read every spend limit and resolve it.
pub async fn load(store: &Store) -> Result<LoadedLimits, Error> {
    let rows = store.all_spend_limits().await.map_err(store_error)?;
    if rows.is_empty() {
        return Ok(LoadedLimits::default());
    }
    let teams = store.list_teams().await.map_err(store_error)?;
    let team_names: HashMap<String, String> = teams.into_iter().map(|t| (t.id, t.name)).collect();
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let user = match row.scope_type {
            SpendScope::User => match store.user_by_subject(&row.scope_id).await {
                Ok(Some(u)) => u.id,
                // Not (yet) a user here: the limit applies once they exist (next reload).
                _ => format!("subject:{}", row.scope_id),
            },
            _ => String::new(),
        };
        list.extend(budget_limit(&row, user));
    }
    Ok(LoadedLimits::new(list, team_names))
}

/// A stored spend limit as the budget check reads it, a `user` limit naming its person as
/// `user` (the id the caller's totals are keyed by, or the subject where people are listed by
/// subject). `None` for a period this build does not know.
pub fn budget_limit(row: &SpendLimit, user: String) -> Option<Limit> {
    let period = row.period.as_str().parse::<Period>().ok()?;
    let scope = match row.scope_type {
        SpendScope::User => Scope::User(user),
        SpendScope::RbacGroup => Scope::RbacGroup(row.scope_id.clone()),
        SpendScope::Organization => Scope::Organization,
        SpendScope::Team => Scope::Team(row.scope_id.clone()),
        SpendScope::Key => Scope::Key(row.scope_id.clone()),
        SpendScope::Gateway => Scope::Gateway,
    };
    Some(Limit {
        id: row.id.clone(),
        scope,
        period,
        amount_nanos: row.amount_cents.map(|c| c.saturating_mul(10_000_000)),
        enabled: row.is_enabled,
    })
}
