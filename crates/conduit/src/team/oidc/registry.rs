//! The set of identity providers: the environment's (id `env`, never stored) and the store's
//! enabled rows, kept current from the sync task's change sets (a newer row replaces an older
//! one; a deleted or disabled row is dropped).

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use conduit_store::{Idp, NewIdp};

/// The environment IdP's id.
pub const ENV_ID: &str = "env";

pub(super) struct Idps {
    env: Option<Idp>,
    rows: RwLock<Rows>,
}

#[derive(Default)]
struct Rows {
    /// Enabled, not deleted rows by id.
    live: HashMap<String, Idp>,
    /// Id → version of the last row seen (dropped ones too), so an older row applied late
    /// cannot bring a deleted IdP back.
    seen: HashMap<String, i64>,
}

impl Idps {
    pub(super) fn new(env: Option<NewIdp>) -> Self {
        Self {
            env: env.map(|new| Idp::from_new(new, ENV_ID.to_owned(), 0, 0)),
            rows: RwLock::new(Rows::default()),
        }
    }

    pub(super) fn apply(&self, idps: &[Idp]) {
        let mut rows = self.rows.write().unwrap_or_else(|p| p.into_inner());
        for idp in idps {
            if idp.id == ENV_ID {
                continue;
            }
            if rows.seen.get(&idp.id).is_some_and(|v| *v > idp.version) {
                continue;
            }
            rows.seen.insert(idp.id.clone(), idp.version);
            if idp.deleted || !idp.enabled {
                rows.live.remove(&idp.id);
            } else {
                rows.live.insert(idp.id.clone(), idp.clone());
            }
        }
    }

    pub(super) fn env(&self) -> Option<Idp> {
        self.env.clone()
    }

    /// Enabled IdPs: the environment's first, then by name.
    pub(super) fn enabled(&self) -> Vec<Idp> {
        let rows = self.rows.read().unwrap_or_else(|p| p.into_inner());
        let mut stored: Vec<Idp> = rows.live.values().cloned().collect();
        stored.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        self.env
            .iter()
            .filter(|e| e.enabled)
            .cloned()
            .chain(stored)
            .collect()
    }

    pub(super) fn get(&self, id: &str) -> Option<Idp> {
        if id == ENV_ID {
            return self.env.clone().filter(|e| e.enabled);
        }
        let rows = self.rows.read().unwrap_or_else(|p| p.into_inner());
        rows.live.get(id).cloned()
    }

    /// The enabled IdPs whose issuer is exactly `issuer`.
    pub(super) fn by_issuer(&self, issuer: &str) -> Vec<Idp> {
        self.enabled()
            .into_iter()
            .filter(|i| i.issuer_url == issuer)
            .collect()
    }

    /// Every enabled IdP's issuer, once each.
    pub(super) fn issuers(&self) -> BTreeSet<String> {
        self.enabled().into_iter().map(|i| i.issuer_url).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use conduit_store::Role;

    fn row(id: &str, name: &str, version: i64, enabled: bool, deleted: bool) -> Idp {
        Idp {
            id: id.into(),
            name: name.into(),
            issuer_url: format!("https://{name}.example"),
            audience: "a".into(),
            client_id: None,
            client_secret: None,
            auto_provision: false,
            default_role: Role::Member,
            allowed_domains: vec![],
            scopes: None,
            enabled,
            created_at: 0,
            deleted,
            version,
        }
    }

    #[test]
    fn newer_rows_win_and_dropped_ones_stay_dropped() {
        let idps = Idps::new(None);
        idps.apply(&[
            row("1", "okta", 3, true, false),
            row("2", "entra", 4, true, false),
        ]);
        assert_eq!(idps.enabled().len(), 2);
        // An older row applied late changes nothing.
        idps.apply(&[row("1", "renamed", 2, true, false)]);
        assert_eq!(idps.get("1").unwrap().name, "okta");
        // Deleted, then the older live row again: still gone.
        idps.apply(&[row("1", "okta", 5, true, true)]);
        idps.apply(&[row("1", "okta", 3, true, false)]);
        assert!(idps.get("1").is_none());
        // Disabled: dropped, and enabled again: back.
        idps.apply(&[row("2", "entra", 6, false, false)]);
        assert!(idps.get("2").is_none());
        idps.apply(&[row("2", "entra", 7, true, false)]);
        assert_eq!(
            idps.by_issuer("https://entra.example")
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["2"]
        );
        assert!(idps.by_issuer("https://entra.example/").is_empty());
    }
}
