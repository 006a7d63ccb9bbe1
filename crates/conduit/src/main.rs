//! The `conduit` binary: parse the command line, run the command, map errors to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conduit::{config, server};

#[derive(Parser)]
#[command(
    name = "conduit",
    version,
    about = "A local gateway from Claude Code and OpenAI clients to Kiro"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground (default 127.0.0.1:8765).
    Serve {
        /// Address to listen on; loopback unless you say otherwise.
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on; 0 picks a free one (written to $CONDUIT_HOME/run/port).
        #[arg(long)]
        port: Option<u16>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { host, port } => serve(host, port),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conduit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(host: Option<String>, port: Option<u16>) -> anyhow::Result<()> {
    let config =
        config::from_env(&|k| std::env::var(k).ok(), host, port).map_err(|e| anyhow::anyhow!(e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(config))
}
