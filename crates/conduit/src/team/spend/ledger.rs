//! The ledger's write path: rows wait in memory and an owned task writes them in batches (one
//! transaction each, with the period totals budgets read), every `SPEND_FLUSH_MS` or as soon as
//! `SPEND_BATCH_ROWS` wait. Shutdown writes everything still waiting; a crash (`kill -9`) loses
//! at most the rows of one flush interval (plus a batch in flight). A failed write keeps its rows
//! and retries them first on the next tick; past [`MAX_PENDING`] rows the oldest are dropped,
//! loudly, rather than letting memory grow without bound while the store is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conduit_store::{SpendRow, Store, TotalDelta};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::totals::Totals;

/// Rows kept while the store cannot be written, at most.
pub const MAX_PENDING: usize = 200_000;
/// Rows per transaction.
const WRITE_CHUNK: usize = 2_000;
/// Attempts at the final flush on shutdown.
const FINAL_ATTEMPTS: u32 = 5;

/// One row and the period windows it falls in (its total deltas are built by the writer).
pub struct Pending {
    pub row: SpendRow,
    /// The start of each period window when it was recorded, in `Period::ALL` order.
    pub windows: [i64; 4],
}

/// Rows waiting to be written.
pub struct Ledger {
    pending: Mutex<Vec<Pending>>,
    wake: Notify,
    batch_rows: usize,
}

impl Ledger {
    pub fn new(batch_rows: usize) -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            wake: Notify::new(),
            batch_rows: batch_rows.max(1),
        }
    }

    /// Queue one row (the hot path: a push under a short lock).
    pub fn push(&self, pending: Pending) {
        let len = {
            let mut rows = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            rows.push(pending);
            if rows.len() > MAX_PENDING {
                // A tenth at once, so that a store down under load costs one move per
                // 20,000 rows, not one per row.
                let drop = rows.len() - MAX_PENDING + MAX_PENDING / 10;
                rows.drain(..drop);
                tracing::error!(
                    dropped = drop,
                    "the spend ledger cannot be written and {MAX_PENDING} rows wait: the oldest are dropped"
                );
            }
            rows.len()
        };
        crate::metrics::ledger_pending(len as u64);
        if len >= self.batch_rows {
            self.wake.notify_one();
        }
    }

    /// How many rows wait.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take(&self) -> Vec<Pending> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Put rows that could not be written back in front of newer ones.
    fn restore(&self, mut rows: Vec<Pending>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        rows.append(&mut pending);
        *pending = rows;
    }

    /// Write every waiting row now; `Err` (rows kept) when the store refused a batch.
    pub async fn flush(&self, store: &Store, totals: &Totals) -> Result<usize, String> {
        let mut rows = self.take();
        let mut written = 0;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(WRITE_CHUNK));
            let deltas = merge(
                rows.iter()
                    .flat_map(|p| super::record::deltas(&p.row, &p.windows)),
            );
            // The rows move into the batch; a failed batch is put back together.
            let windows: Vec<[i64; 4]> = rows.iter().map(|p| p.windows).collect();
            let batch: Vec<SpendRow> = rows.into_iter().map(|p| p.row).collect();
            match store.insert_spend(&batch, &deltas).await {
                Ok(_) => {
                    totals.committed(&deltas);
                    written += batch.len();
                    crate::metrics::ledger_written(batch.len() as u64);
                    rows = rest;
                }
                Err(e) => {
                    crate::metrics::ledger_flush_error();
                    let mut keep: Vec<Pending> = batch
                        .into_iter()
                        .zip(windows)
                        .map(|(row, windows)| Pending { row, windows })
                        .collect();
                    keep.extend(rest);
                    self.restore(keep);
                    crate::metrics::ledger_pending(self.pending() as u64);
                    return Err(e.to_string());
                }
            }
        }
        crate::metrics::ledger_pending(self.pending() as u64);
        Ok(written)
    }
}

/// Sum deltas per (scope, period, period start).
fn merge(deltas: impl Iterator<Item = TotalDelta>) -> Vec<TotalDelta> {
    let mut sums: HashMap<(String, String, i64), i64> = HashMap::new();
    for d in deltas {
        *sums.entry((d.scope, d.period, d.period_start)).or_default() += d.cost_nanos;
    }
    sums.into_iter()
        .map(|((scope, period, period_start), cost_nanos)| TotalDelta {
            scope,
            period,
            period_start,
            cost_nanos,
        })
        .collect()
}

/// Start the writer; cancel `cancel`, then await the handle: it writes what still waits.
pub fn spawn(
    ledger: Arc<Ledger>,
    totals: Arc<Totals>,
    store: Store,
    every: Duration,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
                () = ledger.wake.notified() => {}
            }
            match ledger.flush(&store, &totals).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("the spend ledger is written again");
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(error = %e, pending = ledger.pending(), "cannot write the spend ledger: rows wait in memory and are retried");
                }
                Err(_) => {}
            }
        }
        for attempt in 1..=FINAL_ATTEMPTS {
            match ledger.flush(&store, &totals).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::error!(error = %e, attempt, pending = ledger.pending(), "the final spend ledger write failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tracing::error!(
            lost = ledger.pending(),
            "spend ledger rows could not be written before shutdown"
        );
    })
}
