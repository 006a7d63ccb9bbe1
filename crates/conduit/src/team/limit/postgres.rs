//! The counts in the store (Postgres: several instances on one database). One transaction an
//! admission: each scope's RPM counter is counted (its row locked), its TPM windows read, its
//! stream lease taken (its name locked); a refusal rolls all of it back. Every admission takes
//! these in one order (key, user, team; RPM before streams), so none waits on another in a
//! cycle.

use conduit_store::{LimitTx, Store, StoreError};

use super::{rpm_over, tpm_over, Limit, Plan, Refusal, Release};

pub(super) struct Shared {
    store: Store,
}

impl Shared {
    pub(super) fn new(store: Store) -> Shared {
        Shared { store }
    }

    /// Count `plan` if every limit admits it, else the refusal; `Err` when the store fails.
    pub(super) async fn admit(&self, plan: &Plan) -> Result<Option<Refusal>, String> {
        let mut tx = self.store.begin_limits().await.map_err(detail)?;
        match check(&mut tx, plan).await {
            Ok(None) => {
                tx.commit().await.map_err(detail)?;
                Ok(None)
            }
            Ok(Some(refusal)) => {
                tx.rollback().await.map_err(detail)?;
                Ok(Some(refusal))
            }
            // Dropping the transaction rolls it back.
            Err(e) => Err(detail(e)),
        }
    }

    /// End the leases and add the tokens.
    pub(super) async fn release(&self, release: &Release) -> Result<(), String> {
        if !release.streams.is_empty() {
            let ids: Vec<String> = release
                .streams
                .iter()
                .map(|name| lease_row(&release.lease_id, name))
                .collect();
            self.store.release_leases(&ids).await.map_err(detail)?;
        }
        for name in &release.tpm {
            self.store
                .add_rate(name, release.window, release.tokens)
                .await
                .map_err(detail)?;
        }
        Ok(())
    }
}

async fn check(tx: &mut LimitTx, plan: &Plan) -> Result<Option<Refusal>, StoreError> {
    let start = plan.window_start();
    let elapsed = plan.elapsed();
    for (i, check) in plan.checks.iter().enumerate() {
        let refuse = |limit| Ok(Some(Refusal { check: i, limit }));
        let limits = check.limits;
        if let Some(rpm) = limits.rpm {
            let (current, previous) = tx.hit(&check.name("rpm"), start).await?;
            if rpm_over(previous, current, elapsed, rpm) {
                return refuse(Limit::Rpm);
            }
        }
        if let Some(tpm) = limits.tpm {
            let (current, previous) = tx.counts(&check.name("tpm"), start).await?;
            if tpm_over(previous, current, elapsed, tpm) {
                return refuse(Limit::Tpm);
            }
        }
        if let Some(max) = limits.max_streams {
            let name = check.name("streams");
            let id = lease_row(&plan.lease_id, &name);
            if !tx
                .acquire_lease(&name, &id, max, plan.now_ms, plan.lease_expires_ms)
                .await?
            {
                return refuse(Limit::Streams);
            }
        }
    }
    Ok(None)
}

/// The `stream_leases` id of an admission's lease on `name`.
fn lease_row(lease_id: &str, name: &str) -> String {
    format!("{lease_id}/{name}")
}

fn detail(e: StoreError) -> String {
    e.to_string()
}
