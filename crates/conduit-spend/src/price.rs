//! The effective-dated price table and its lookup (longest key, then the latest entry in force).

use serde::{Deserialize, Serialize};

use crate::cost::Counters;
use crate::model::{key_matches, normalise};
use crate::rates::{Band, Rates};

/// One dated row of the price table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEntry {
    /// The price key: a normalised API id without its date (`claude-sonnet-4-5`), matched
    /// against normalised model ids by whole components (see [`PriceTable::lookup`]).
    pub model: String,
    /// Also prices later minor versions (`claude-sonnet-4` for "Sonnet 4.x" prices
    /// `claude-sonnet-4-7`); off for rows that name one version.
    pub minor_versions: bool,
    /// Unix seconds from which these rates apply; `0` = always.
    pub effective_from: i64,
    /// The rates of a request below any band.
    pub rates: Rates,
    /// Higher rates for the whole request once the prompt exceeds a threshold.
    pub band: Option<Band>,
    /// Where the numbers come from.
    pub source: String,
}

impl PriceEntry {
    /// The rates that apply to a request with these counters (the band's when its prompt is
    /// over the band threshold).
    pub fn rates_for(&self, counters: &Counters) -> &Rates {
        match &self.band {
            Some(band) if counters.prompt() > band.above_prompt_tokens => &band.rates,
            _ => &self.rates,
        }
    }

    /// Names the entry in `priced_by`: `claude-sonnet-5-5`, or `claude-sonnet-5-5@2026-10-07`
    /// for a dated one.
    pub fn label(&self) -> String {
        if self.effective_from == 0 {
            return self.model.clone();
        }
        match jiff::Timestamp::from_second(self.effective_from) {
            Ok(t) => format!("{}@{}", self.model, t.strftime("%Y-%m-%d")),
            Err(_) => format!("{}@{}", self.model, self.effective_from),
        }
    }
}

/// Price rows, looked up by model id and time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriceTable {
    entries: Vec<PriceEntry>,
}

impl PriceTable {
    /// A table of these rows.
    pub fn new(entries: Vec<PriceEntry>) -> Self {
        PriceTable { entries }
    }

    /// Anthropic's list prices, seeded from the spec (team-gateway.md §5.1) and the pricing page.
    pub fn list() -> Self {
        PriceTable::new(crate::list::entries())
    }

    /// Every row, in table order.
    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }

    /// The entry that prices `model` at `at_s` (Unix seconds).
    ///
    /// The id is normalised ([`normalise`]); the longest key that matches it by whole
    /// components wins (`claude-opus-4-1` over `claude-opus-4`); of that key's rows, the one with
    /// the latest `effective_from <= at_s`. `None` when no key matches or no row of the key is
    /// in force yet (no fallback to a shorter key: that would be another model's price).
    pub fn lookup(&self, model: &str, at_s: i64) -> Option<&PriceEntry> {
        let id = normalise(model);
        let key = self
            .entries
            .iter()
            .filter(|e| key_matches(&id, &e.model, e.minor_versions))
            .map(|e| e.model.as_str())
            .max_by_key(|k| k.len())?;
        self.entries
            .iter()
            .filter(|e| e.model == key && e.effective_from <= at_s)
            .max_by_key(|e| e.effective_from)
    }
}
