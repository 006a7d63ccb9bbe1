//! Pricing one request: admin overrides, then the list; Kiro by credits.

use serde::{Deserialize, Serialize};

use crate::cost::{cost_nanos, div_round, saturate, Counters};
use crate::model::normalise;
use crate::price::PriceTable;
use crate::rates::Rates;

/// Kiro's price per credit in micro-dollars: **$0.04**, Kiro's published overage price for
/// credits beyond a plan's monthly allowance (https://kiro.dev/pricing/, "$0.04 per additional
/// credit"). An assumption: a subscription's included credits cost less per credit, so this is
/// the marginal, not the average, price. Overridable ([`Pricer::with_kiro_credit_micros`]; the
/// `kiro_credit_micros` setting).
pub const KIRO_CREDIT_MICROS: i64 = 40_000;

/// An admin's price for a model, on one upstream or on all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The upstream's name; `None` = every upstream (`'*'` in `price_overrides`).
    pub upstream: Option<String>,
    /// A model-id prefix, compared after normalising both sides ([`normalise`]).
    pub model_prefix: String,
    /// The rates to charge instead of the list's.
    pub rates: Rates,
}

/// The cost of one request and what priced it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Priced {
    /// Nano-dollars; `None` when nothing prices the model (the caller warns once per model).
    pub cost_nanos: Option<i64>,
    /// `list:<entry>`, `override:<upstream or *>/<prefix>`, `kiro-credit`,
    /// `kiro-list-estimate`; `None` with no cost.
    pub priced_by: Option<String>,
}

/// The list table, admin overrides and Kiro's credit price.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricer {
    table: PriceTable,
    overrides: Vec<Override>,
    kiro_credit_micros: i64,
}

impl Default for Pricer {
    fn default() -> Self {
        Pricer::list()
    }
}

impl Pricer {
    /// List prices, no overrides, Kiro at [`KIRO_CREDIT_MICROS`].
    pub fn list() -> Self {
        Pricer::new(PriceTable::list())
    }

    /// This table, no overrides, Kiro at [`KIRO_CREDIT_MICROS`].
    pub fn new(table: PriceTable) -> Self {
        Pricer {
            table,
            overrides: Vec::new(),
            kiro_credit_micros: KIRO_CREDIT_MICROS,
        }
    }

    /// Replaces the admin overrides.
    pub fn with_overrides(mut self, overrides: Vec<Override>) -> Self {
        self.overrides = overrides;
        self
    }

    /// Replaces Kiro's price per credit (micro-dollars).
    pub fn with_kiro_credit_micros(mut self, micros: i64) -> Self {
        self.kiro_credit_micros = micros;
        self
    }

    /// The list table.
    pub fn table(&self) -> &PriceTable {
        &self.table
    }

    /// The admin overrides.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Kiro's price per credit (micro-dollars).
    pub fn kiro_credit_micros(&self) -> i64 {
        self.kiro_credit_micros
    }

    /// Prices one request of `model` on `upstream`, started at `at_s` (Unix seconds).
    ///
    /// Kiro rows (`kiro`) with a credit count cost `round(credits × credit price × 1000)` nanos
    /// (`kiro-credit`); without one, they are priced like any row and a list price is flagged
    /// `kiro-list-estimate`. Other rows: the most specific override (this upstream and the
    /// longest prefix, then any upstream and the longest prefix), else the list entry in force at
    /// `at_s`, else no cost.
    pub fn price(
        &self,
        upstream: &str,
        model: &str,
        at_s: i64,
        counters: &Counters,
        credits: Option<f64>,
        kiro: bool,
    ) -> Priced {
        if kiro {
            if let Some(credits) = credits.filter(|c| c.is_finite() && *c >= 0.0) {
                return Priced {
                    cost_nanos: Some(self.credit_nanos(credits)),
                    priced_by: Some("kiro-credit".to_owned()),
                };
            }
        }
        if let Some(o) = self.find_override(upstream, model) {
            let who = o.upstream.as_deref().unwrap_or("*");
            return Priced {
                cost_nanos: Some(cost_nanos(counters, &o.rates)),
                priced_by: Some(format!("override:{who}/{}", o.model_prefix)),
            };
        }
        match self.table.lookup(model, at_s) {
            Some(entry) => Priced {
                cost_nanos: Some(cost_nanos(counters, entry.rates_for(counters))),
                priced_by: Some(if kiro {
                    "kiro-list-estimate".to_owned()
                } else {
                    format!("list:{}", entry.label())
                }),
            },
            None => Priced::default(),
        }
    }

    /// `round(credits × micro-dollars per credit × 1000)`, in nano-dollars.
    fn credit_nanos(&self, credits: f64) -> i64 {
        // Credits arrive as a decimal (Kiro meters to hundredths); go through micro-credits so
        // the multiplication by the price stays in integers.
        let micro_credits = (credits * 1e6).round();
        if micro_credits >= i64::MAX as f64 {
            return i64::MAX;
        }
        let micro_credits = micro_credits as i128;
        saturate(div_round(
            micro_credits * i128::from(self.kiro_credit_micros),
            1000,
        ))
    }

    /// The override for this upstream and model: an exact upstream beats "any upstream"; within
    /// each, the longest prefix wins.
    fn find_override(&self, upstream: &str, model: &str) -> Option<&Override> {
        let id = normalise(model);
        let best = |exact: bool| {
            self.overrides
                .iter()
                .filter(|o| match &o.upstream {
                    Some(u) => exact && u == upstream,
                    None => !exact,
                })
                .map(|o| (o, normalise(&o.model_prefix)))
                .filter(|(_, prefix)| id.starts_with(prefix.as_str()))
                .max_by_key(|(_, prefix)| prefix.len())
                .map(|(o, _)| o)
        };
        best(true).or_else(|| best(false))
    }
}

#[cfg(test)]
mod tests;
