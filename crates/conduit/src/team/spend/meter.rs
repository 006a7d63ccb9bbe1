//! What the team guard hands a request's record: who called and their rate-limit admission.
//! When the record ends (the last byte of a stream, an error, or the client leaving), the meter
//! writes the ledger row and then drops the admission, which frees its concurrency leases and
//! adds the tokens to the tokens-per-minute windows.

use std::sync::{Arc, Mutex};

use super::record::Finished;
use super::Spend;
use crate::team::limit::Admission;
use crate::team::Principal;

/// Cloned into the request's extensions by the guard; the first record to take it meters.
#[derive(Clone)]
pub struct Meter {
    inner: Arc<Mutex<Option<Metering>>>,
}

struct Metering {
    spend: Arc<Spend>,
    principal: Principal,
    admission: Admission,
}

impl Meter {
    pub fn new(spend: Arc<Spend>, principal: Principal, admission: Admission) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Some(Metering {
                spend,
                principal,
                admission,
            }))),
        }
    }

    /// Record the finished request (once; later calls do nothing).
    pub fn finish(&self, finished: &Finished<'_>) {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut m) = taken {
            let tokens = m.spend.record(&m.principal, finished);
            m.admission.record_tokens(tokens);
        }
    }
}
