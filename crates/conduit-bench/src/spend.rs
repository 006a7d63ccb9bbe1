//! `--scenario spend`: the work issue 14 adds to each team-mode request, in process, on the real
//! code and a real SQLite team store: the budget check (a user cap and a gateway cap), the
//! rate-limit admission (RPM, TPM and concurrent streams on the key, counted in memory as one
//! SQLite instance does), and at the end the ledger row priced and queued and the admission
//! released, while the ledger's own writer flushes batches to the store in the background as
//! `serve` runs it. The same per-request timing without any limit is the floor. Reports only.

use std::time::{Duration, Instant};

use anyhow::Context;
use conduit::team::spend::meter::Meter;
use conduit::team::spend::record::Finished;
use conduit::team::{Principal, PrincipalKind};
use conduit_core::Usage;
use conduit_store::{
    Actor, CredentialKind, NewCredential, NewSpendLimit, NewUser, RateScope, Role, SpendPeriod,
    SpendScope, Store,
};
use tokio_util::sync::CancellationToken;

use crate::stats::Percentiles;

pub struct SpendRun {
    pub n: usize,
    /// Budgets, limits and the ledger on.
    pub metered: Percentiles,
    /// The same caller with no cap and no limit (the ledger row is still written).
    pub unlimited: Percentiles,
    pub rows_written: usize,
}

fn actor() -> Actor {
    Actor {
        name: "bench".into(),
        user_id: None,
        ip: None,
    }
}

pub async fn run(quick: bool) -> anyhow::Result<SpendRun> {
    let dir = std::env::temp_dir().join(format!("conduit-bench-spend-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open_sqlite(&dir.join("team.db")).await?;
    store.migrate().await?;
    let user = store
        .create_user(
            &NewUser {
                subject: "ada".into(),
                email: None,
                role: Role::Member,
                team_id: None,
                password_hash: None,
            },
            &actor(),
        )
        .await?;
    let key = |name: &str| NewCredential {
        kind: CredentialKind::Key,
        digest: format!("{:064x}", name.len()) + name,
        prefix: "sk-proxy-bench".into(),
        name: name.into(),
        user_id: Some(user.id.clone()),
        team_id: None,
        rate_limit_rpm: None,
        expires_at: None,
    };
    let limited = store.create_credential(&key("limited"), &actor()).await?;
    let free = store.create_credential(&key("free"), &actor()).await?;
    store
        .set_rate_limit(
            RateScope::Key,
            &limited.id,
            Some(100_000_000),
            Some(1_000_000_000_000_000),
            Some(1_000),
            &actor(),
        )
        .await?;
    for (scope, id) in [(SpendScope::User, "ada"), (SpendScope::Gateway, "")] {
        store
            .upsert_spend_limit(
                &NewSpendLimit {
                    scope_type: scope,
                    scope_id: id.into(),
                    period: SpendPeriod::Monthly,
                    amount_cents: Some(1_000_000_000),
                    currency: "USD".into(),
                    is_enabled: true,
                },
                &actor(),
            )
            .await?;
    }
    let config = conduit::config::team::from_env(&|_| None).map_err(anyhow::Error::msg)?;
    let team = conduit::team::serve::team_state(store.clone(), &config).await?;
    let stop = CancellationToken::new();
    let writer = conduit::team::spend::ledger::spawn(
        team.spend.ledger.clone(),
        team.spend.totals.clone(),
        store.clone(),
        team.spend.config.flush_interval,
        stop.clone(),
    );
    let principal = |id: &str, user_id: Option<String>| Principal {
        credential_id: id.into(),
        kind: PrincipalKind::Key,
        user_id,
        subject: Some("ada".into()),
        team_id: None,
        role: Role::Member,
        rate_limit_rpm: None,
    };
    let metered_p = principal(&limited.id, Some(user.id.clone()));
    let n = if quick { 20_000 } else { 200_000 };
    let usage = Usage {
        input_tokens: 3_000,
        output_tokens: 400,
        cache_read_input_tokens: 40_000,
        cache_creation_input_tokens: 2_000,
        ..Usage::default()
    };
    let once = |p: &Principal| {
        let team = team.clone();
        let p = p.clone();
        async move {
            let t = Instant::now();
            let verdict = team.spend.check(&p).context("budget refused")?;
            std::hint::black_box(&verdict);
            let admission = team.limiter.admit(&p).await.context("limit refused")?;
            let meter = Meter::new(team.spend.clone(), p, admission);
            meter.finish(&Finished {
                at_ms: 1_796_601_540_000,
                path: "/v1/messages",
                model: "claude-sonnet-4-6",
                upstream: Some("bedrock"),
                upstream_model: Some("us.anthropic.claude-sonnet-4-6-v1:0"),
                status: 200,
                latency: Duration::from_millis(900),
                ttft: Some(Duration::from_millis(300)),
                usage: Some(usage),
            });
            drop(meter);
            anyhow::Ok(t.elapsed())
        }
    };
    let mut metered = Vec::with_capacity(n);
    for _ in 0..n / 10 {
        once(&metered_p).await?;
    }
    for _ in 0..n {
        metered.push(once(&metered_p).await?);
    }
    // The floor: no spend limit and no rate limit at all.
    for l in store.all_spend_limits().await? {
        store.delete_spend_limit(&l.id, &actor()).await?;
    }
    team.spend
        .reload(&store)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let free_p = principal(&free.id, Some(user.id.clone()));
    let mut unlimited = Vec::with_capacity(n);
    for _ in 0..n {
        unlimited.push(once(&free_p).await?);
    }
    stop.cancel();
    writer.await?;
    let rows_written = store.spend_rows(None, 0, i64::MAX, i64::MAX).await?.len();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SpendRun {
        n,
        metered: Percentiles::of(&mut metered),
        unlimited: Percentiles::of(&mut unlimited),
        rows_written,
    })
}

impl SpendRun {
    pub fn markdown(&self) -> String {
        let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
        let mut md = format!(
            "### Spend: the work added per request (in process, {} requests each)\n\n\
             | caller | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n",
            self.n
        );
        for (name, p) in [
            (
                "key with RPM/TPM/stream limits, a user and a gateway budget",
                &self.metered,
            ),
            ("no limit, no budget (ledger row only)", &self.unlimited),
        ] {
            md += &format!(
                "| {name} | {} | {} | {} | {} | {} |\n",
                us(p.p50),
                us(p.p90),
                us(p.p99),
                us(p.p999),
                us(p.max)
            );
        }
        md += &format!(
            "\nLedger rows written by the background writer: {} of {}.\n",
            self.rows_written,
            self.n * 2 + self.n / 10
        );
        md
    }
}
