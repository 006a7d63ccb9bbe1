//! Spend: the ledger (one row per request, written in batches off the hot path), prices, budgets
//! (in-memory checks against period totals shared through the store) and threshold notices.
//! Filled in by issue 14; `reload` is what the admin API calls after writing limits or prices.

use conduit_core::Error;
use conduit_store::Store;

/// Team mode's spend state (one per process).
#[derive(Default)]
pub struct Spend {}

impl Spend {
    /// Re-read spend limits and price overrides from the store (after an admin write here; other
    /// instances catch up on their refresh tick).
    pub async fn reload(&self, _store: &Store) -> Result<(), Error> {
        Ok(())
    }
}
