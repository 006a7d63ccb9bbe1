//! Budget threshold notices: a row that carries a cap's spend across a threshold
//! (`SPEND_NOTIFY_PERCENT`) queues a notice; this owned task claims it in the store (so that
//! one instance sends it, once per limit, period and threshold), logs it, and POSTs it to
//! `SPEND_WEBHOOK_URL` if set.

use std::time::Duration;

use conduit_spend::Period;
use conduit_store::Store;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One threshold crossed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub limit_id: String,
    /// The total it was compared with (`user:<id>`, `team:<id>`, `key:<id>`, `gateway`).
    pub scope: String,
    pub period: Period,
    pub period_start: i64,
    pub threshold: u8,
    pub spent_nanos: i64,
    pub cap_nanos: i64,
}

impl Notice {
    pub fn body(&self) -> serde_json::Value {
        json!({
            "type": "spend_limit_threshold",
            "spend_limit_id": self.limit_id,
            "scope": self.scope,
            "period": self.period.as_str(),
            "period_start": self.period_start,
            "threshold_percent": self.threshold,
            "spent_usd": conduit_spend::usd(self.spent_nanos),
            "limit_usd": conduit_spend::usd(self.cap_nanos),
        })
    }
}

/// Start the task; it ends when `cancel` fires (notices still queued are sent first).
pub fn spawn(
    mut rx: mpsc::UnboundedReceiver<Notice>,
    store: Store,
    webhook: Option<String>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        loop {
            let notice = tokio::select! {
                () = cancel.cancelled() => match rx.try_recv() { Ok(n) => n, Err(_) => break },
                n = rx.recv() => match n { Some(n) => n, None => break },
            };
            // Per-seat limits notify per person: the scope is part of the claim.
            let claim = format!("{}/{}", notice.limit_id, notice.scope);
            match store
                .claim_notice(&claim, notice.period_start, i64::from(notice.threshold))
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot claim a budget notice; sending it anyway");
                }
            }
            tracing::warn!(
                spend_limit_id = %notice.limit_id,
                scope = %notice.scope,
                period = notice.period.as_str(),
                threshold_percent = notice.threshold,
                spent_usd = %conduit_spend::usd(notice.spent_nanos),
                limit_usd = %conduit_spend::usd(notice.cap_nanos),
                "spend limit threshold reached"
            );
            if let Some(url) = &webhook {
                match client.post(url).json(&notice.body()).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(
                        status = r.status().as_u16(),
                        "the spend webhook refused a notice"
                    ),
                    Err(e) => tracing::warn!(error = %e, "cannot reach the spend webhook"),
                }
            }
        }
    })
}
