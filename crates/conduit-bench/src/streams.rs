//! Many concurrent open streams through conduit: conduit's memory once every stream has its
//! first event, and after they are all dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::load::Target;
use crate::stats::rss_kb;

pub struct OpenStreams {
    pub streams: usize,
    /// How long until every stream had its first event.
    pub open_secs: f64,
    pub conduit_rss_kb: u64,
    pub sim_rss_kb: u64,
    /// Conduit's RSS a second after the clients hung up.
    pub conduit_rss_after_kb: u64,
}

/// Open `n` streams to `target` (a request the simulator answers with one event and then holds
/// open), measure once all are open, then drop them.
pub async fn hold(
    client: &reqwest::Client,
    target: Arc<Target>,
    n: usize,
    conduit_pid: u32,
    sim_pid: u32,
) -> anyhow::Result<OpenStreams> {
    let (opened_tx, mut opened_rx) = mpsc::channel::<anyhow::Result<()>>(n.max(1));
    let (release_tx, release_rx) = watch::channel(false);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, target, opened) = (client.clone(), target.clone(), opened_tx.clone());
        let mut release = release_rx.clone();
        tasks.spawn(async move {
            let first = async {
                let resp = client
                    .post(&target.url)
                    .headers(target.headers.clone())
                    .body(target.body.clone())
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("open stream answered {}", resp.status());
                }
                let mut body = resp.bytes_stream();
                match body.next().await {
                    Some(Ok(_)) => Ok(body),
                    Some(Err(e)) => Err(e.into()),
                    None => bail!("the stream ended before its first event"),
                }
            };
            match first.await {
                Ok(body) => {
                    let _ = opened.send(Ok(())).await;
                    let _ = release.wait_for(|r| *r).await;
                    drop(body);
                }
                Err(e) => {
                    let _ = opened.send(Err(e)).await;
                }
            }
        });
    }
    drop(opened_tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut open = 0;
    while open < n {
        match tokio::time::timeout_at(deadline, opened_rx.recv()).await {
            Ok(Some(Ok(()))) => open += 1,
            Ok(Some(Err(e))) => {
                let _ = release_tx.send(true);
                return Err(e.context(format!("after {open} streams were open")));
            }
            Ok(None) | Err(_) => {
                let _ = release_tx.send(true);
                bail!("only {open} of {n} streams opened within 60 s");
            }
        }
    }
    let open_secs = start.elapsed().as_secs_f64();
    // Let in-flight work settle before reading memory.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let conduit_rss_kb = rss_kb(conduit_pid)?;
    let sim_rss_kb = rss_kb(sim_pid)?;
    let _ = release_tx.send(true);
    while tasks.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(OpenStreams {
        streams: n,
        open_secs,
        conduit_rss_kb,
        sim_rss_kb,
        conduit_rss_after_kb: rss_kb(conduit_pid)?,
    })
}

/// A burst of concurrent Claude-Code-sized streamed requests: conduit's RSS before it (after
/// one request, so the tokenizer's tables are already resident), at its peak (sampled every
/// 2 ms), when the last stream ended, and a second later.
pub struct Burst {
    pub streams: usize,
    pub secs: f64,
    pub rss_before_kb: u64,
    pub rss_peak_kb: u64,
    pub rss_end_kb: u64,
    pub rss_after_kb: u64,
}

/// Sends `n` copies of `target`'s request at once, each read to its end.
pub async fn burst(
    client: &reqwest::Client,
    target: Arc<Target>,
    n: usize,
    conduit_pid: u32,
) -> anyhow::Result<Burst> {
    crate::load::call(client, &target).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kb = rss_kb(conduit_pid)?;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, target) = (client.clone(), target.clone());
        tasks.spawn(async move { crate::load::call(&client, &target).await });
    }
    let mut peak = rss_before_kb;
    let mut done = 0;
    while done < n {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(r) => {
                    r??;
                    done += 1;
                }
                None => break,
            },
            _ = tokio::time::sleep(Duration::from_millis(2)) => {
                peak = peak.max(rss_kb(conduit_pid)?);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rss_end_kb = rss_kb(conduit_pid)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Burst {
        streams: n,
        secs,
        rss_before_kb,
        rss_peak_kb: peak.max(rss_end_kb),
        rss_end_kb,
        rss_after_kb: rss_kb(conduit_pid)?,
    })
}
