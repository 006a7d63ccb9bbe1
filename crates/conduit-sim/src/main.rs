//! The `conduit-sim` binary: runs the simulator until interrupted, driven over `/_sim`.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use conduit_sim::{ProfileArnPolicy, Sim, SimConfig};

/// A faithful simulator of Kiro, AWS SSO OIDC and the Kiro desktop auth service, for tests.
#[derive(Debug, Parser)]
#[command(name = "conduit-sim", version)]
struct Args {
    /// Port to listen on; 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the bound port to this file once listening.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Address to bind. Only loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Device-flow polling interval in seconds (0 disables slow_down).
    #[arg(long, default_value_t = 1)]
    device_interval: u64,
    /// Whether chat requests must carry profileArn.
    #[arg(long, default_value = "required")]
    profile_arn_policy: ProfileArnPolicy,
    /// The region the root (no `/region/{region}` prefix) stands for; unset = no region checks there.
    #[arg(long)]
    root_region: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conduit-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = SimConfig {
        host: args.host,
        port: args.port,
        device_interval: args.device_interval,
        profile_arn_policy: args.profile_arn_policy,
        root_region: args.root_region.clone(),
        ..SimConfig::default()
    };
    let sim = Sim::start(config)
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    if let Some(path) = &args.port_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, sim.addr().port().to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot write the port file {}", path.display()))?;
    }
    eprintln!("listening on {}", sim.base_url());
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}
