//! The owned task that keeps budgets current across instances: every `SPEND_REFRESH_MS` it
//! re-reads the period totals of the current periods (what every instance has written), and
//! every [`LIMITS_EVERY`] ticks the spend limits and price overrides (an admin write on this
//! instance reloads them at once).

use std::sync::Arc;
use std::time::Duration;

use conduit_core::Error;
use conduit_spend::{Override, Period, Pricer, Rates};
use conduit_store::Store;
use tokio::task::JoinHandle;
use tokio::time::{interval, timeout, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::Spend;
use crate::team::api::store_error;

/// Limits and prices are re-read every this many totals ticks.
const LIMITS_EVERY: u32 = 5;
/// One store call may take this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The list prices with the store's overrides on top.
pub async fn load_pricer(store: &Store) -> Result<Pricer, Error> {
    let rows = store.list_price_overrides().await.map_err(store_error)?;
    let overrides = rows
        .into_iter()
        .map(|row| Override {
            upstream: (row.upstream != "*").then_some(row.upstream),
            model_prefix: row.model,
            rates: Rates {
                input: row.input,
                output: row.output,
                cache_read: row.cache_read,
                write_5m: row.write_5m,
                write_1h: row.write_1h,
            },
        })
        .collect();
    Ok(Pricer::list().with_overrides(overrides))
}

/// Re-read the totals of the periods `now` falls in.
pub async fn refresh_totals(spend: &Spend, store: &Store) -> Result<(), Error> {
    let keys: Vec<(&str, i64)> = Period::ALL
        .iter()
        .map(|p| p.as_str())
        .zip(spend.windows())
        .collect();
    let rows = store.period_totals(&keys).await.map_err(store_error)?;
    spend.totals.replace_stored(
        rows.into_iter()
            .map(|t| (t.scope, t.period, t.period_start, t.cost_nanos))
            .collect(),
    );
    Ok(())
}

/// Start the task; cancel `cancel`, then await the handle.
pub fn spawn(spend: Arc<Spend>, store: Store, cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = interval(spend.config.refresh_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Ok(Err(e)) = timeout(CALL_TIMEOUT, refresh_totals(&spend, &store)).await {
                tracing::debug!(error = %e.message, "cannot re-read spend totals");
            }
            n = n.wrapping_add(1);
            if n % LIMITS_EVERY == 0 {
                if let Ok(Err(e)) = timeout(CALL_TIMEOUT, spend.reload(&store)).await {
                    tracing::debug!(error = %e.message, "cannot re-read spend limits");
                }
            }
        }
    })
}
