//! The `conduit` binary: parse the command line, run the command, map errors to exit codes.

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use cli::{autostart, daemon, Paths};
use conduit::{config, server};

const EXIT_CODES: &str = "Exit codes: 0 success; 1 failure (the message says why and what to do); \
2 bad usage; 3 `status`: not running; 4 `status`: running but unhealthy, `doctor`: a check failed.";

#[derive(Parser)]
#[command(
    name = "conduit",
    version,
    about = "A local gateway from Claude Code and OpenAI clients to Kiro",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to Kiro through AWS SSO (device flow): shows a code, waits for your approval.
    /// With --social: Kiro's own Google or GitHub sign-in in the browser.
    Login {
        /// Do not open a browser; only print the URL and code (also CONDUIT_NO_BROWSER).
        #[arg(long)]
        no_browser: bool,
        /// Sign in with Google or GitHub through Kiro instead of AWS SSO.
        #[arg(long, value_name = "google|github", value_parser = ["google", "github"])]
        social: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The Kiro accounts conduit knows: list, import (Kiro IDE, kiro-cli), remove.
    Accounts {
        #[command(subcommand)]
        action: cli::accounts::Action,
    },
    /// Run the gateway in the foreground (default 127.0.0.1:8765).
    Serve {
        /// Address to listen on; loopback unless you say otherwise.
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on; 0 picks a free one (written to $CONDUIT_HOME/run/port).
        #[arg(long)]
        port: Option<u16>,
        /// Upstreams and routes (TOML; docs/configuration.md). Also CONDUIT_CONFIG. Without
        /// one, conduit serves from Kiro only.
        #[arg(long, value_name = "FILE")]
        config: Option<std::path::PathBuf>,
        #[command(flatten)]
        team: TeamServeArgs,
    },
    /// The team gateway's admin commands: login, keys, users, teams; init, reset-admin and cert
    /// on the server host.
    Team(cli::team::TeamArgs),
    /// Print a team gateway token: Claude Code's apiKeyHelper and Codex's token command. Kept
    /// in the OS keychain, refreshed, or signed in through the browser when a person is there.
    Token(cli::token::TokenArgs),
    /// Start the gateway in the background and point Claude Code at it.
    Start(StartArgs),
    /// Stop the background gateway (SIGTERM, then SIGKILL after the grace period).
    Stop {
        /// Seconds to wait after SIGTERM before SIGKILL [default: CONDUIT_SHUTDOWN_GRACE + 5].
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Stop, then start the background gateway.
    Restart(StartArgs),
    /// Is the gateway running and healthy; which Kiro account, until when (exit 3: stopped, 4: unhealthy).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Show the gateway log ($CONDUIT_HOME/logs/gateway.log).
    Logs {
        /// Keep printing lines as they are written.
        #[arg(short, long)]
        follow: bool,
        /// How many of the last lines to show.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
    },
    /// Show the key clients use, and configure Claude Code with it.
    ApiKey {
        /// Print only the key (for scripts); change nothing.
        #[arg(long, conflicts_with_all = ["json", "yes"])]
        raw: bool,
        /// Configure Claude Code without asking.
        #[arg(short, long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write ANTHROPIC_BASE_URL and the key into ~/.claude/settings.json (other keys are kept);
    /// with --gateway, a team gateway and `conduit token` as Claude Code's apiKeyHelper.
    ConfigureClaude {
        /// A team gateway's base URL: Claude Code gets its tokens from `conduit token`.
        #[arg(long, value_name = "URL")]
        gateway: Option<String>,
        /// The token profile [default: $CONDUIT_TOKEN_PROFILE, else `default`].
        #[arg(long, value_name = "NAME", requires = "gateway")]
        profile: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Start conduit at login (systemd user unit on Linux, launchd agent on macOS).
    EnableAutostart {
        /// Which service manager [default: this system's].
        #[arg(long, value_enum)]
        kind: Option<autostart::Kind>,
        /// Print the unit/plist instead of installing it.
        #[arg(long)]
        print: bool,
        /// Write the file but do not call systemctl/launchctl.
        #[arg(long)]
        no_activate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Stop starting conduit at login.
    DisableAutostart {
        /// Remove the file but do not call systemctl/launchctl.
        #[arg(long)]
        no_activate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pull, rebuild and restart an install made by install.sh (never runs on its own).
    Update,
    /// Stop conduit, remove autostart and the binary; --purge also deletes $CONDUIT_HOME.
    Uninstall {
        /// Also delete $CONDUIT_HOME (credentials, logs, source).
        #[arg(long)]
        purge: bool,
        /// Restore ~/.claude/settings.json from the backup made before conduit's first write.
        #[arg(long, conflicts_with = "keep_settings")]
        restore_settings: bool,
        /// Keep the backup; only remove conduit's entries from settings.json.
        #[arg(long)]
        keep_settings: bool,
        /// Do not call systemctl/launchctl.
        #[arg(long)]
        no_activate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check every link from Claude Code to Kiro and say how to fix what is broken.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

#[derive(Args)]
struct TeamServeArgs {
    /// Team mode: callers authenticate with keys and sessions from the team store
    /// (DATABASE_URL, else SQLite in $CONDUIT_HOME/data); admin API under /admin.
    #[arg(long)]
    team: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; `conduit team cert` makes one).
    #[arg(long, value_name = "PEM", requires_all = ["tls_key", "team"])]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires_all = ["tls_cert", "team"])]
    tls_key: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct StartArgs {
    /// Address to listen on; loopback unless you say otherwise.
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on; 0 picks a free one.
    #[arg(long)]
    port: Option<u16>,
    /// Leave ~/.claude/settings.json alone.
    #[arg(long)]
    no_configure_claude: bool,
    #[arg(long)]
    json: bool,
}

impl From<StartArgs> for daemon::StartOptions {
    fn from(a: StartArgs) -> Self {
        Self {
            host: a.host,
            port: a.port,
            no_configure_claude: a.no_configure_claude,
            json: a.json,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conduit: {e:#}");
            ExitCode::from(cli::exit::FAILED)
        }
    }
}

fn run(command: Command) -> cli::Outcome {
    // First: a cached token is printed before anything else is set up.
    if let Command::Token(args) = command {
        return cli::token::run(&Paths::from_env()?, args);
    }
    if let Command::Serve {
        host,
        port,
        config,
        team,
    } = command
    {
        serve(host, port, config, team)?;
        return cli::ok();
    }
    if let Command::Completions { shell } = command {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "conduit", &mut buf);
        cli::output::raw(&buf)?;
        return cli::ok();
    }
    let paths = Paths::from_env()?;
    match command {
        Command::Serve { .. } | Command::Completions { .. } | Command::Token(_) => cli::ok(),
        Command::Start(a) => daemon::start(&paths, &a.into()),
        Command::Stop { timeout, json } => {
            daemon::stop(&paths, timeout.map(Duration::from_secs), json)
        }
        Command::Restart(a) => daemon::restart(&paths, &a.into()),
        Command::Status { json } => cli::status::run(&paths, json),
        Command::Logs { follow, lines } => cli::logs::run(&paths, lines, follow),
        Command::ApiKey { raw, yes, json } => cli::api_key::run(&paths, raw, json, yes),
        Command::ConfigureClaude {
            gateway: Some(url),
            profile,
            json,
        } => cli::claude_gateway::run(&paths, &url, profile.as_deref(), json),
        Command::ConfigureClaude { json, .. } => cli::claude_settings::run(&paths, json),
        Command::EnableAutostart {
            kind,
            print,
            no_activate,
            json,
        } => autostart::enable(&paths, kind, print, no_activate, json),
        Command::DisableAutostart { no_activate, json } => {
            autostart::disable(&paths, no_activate, json)
        }
        Command::Update => cli::update::run(&paths),
        Command::Uninstall {
            purge,
            restore_settings,
            keep_settings,
            no_activate,
            json,
        } => {
            let restore = match (restore_settings, keep_settings) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            cli::uninstall::run(
                &paths,
                &cli::uninstall::Options {
                    purge,
                    restore_settings: restore,
                    no_activate,
                    json,
                },
            )
        }
        Command::Doctor { json } => cli::doctor::run(&paths, json),
        Command::Login {
            no_browser,
            social,
            json,
        } => cli::login::run(&paths, no_browser, social.as_deref(), json),
        Command::Accounts { action } => cli::accounts::run(&paths, action),
        Command::Team(args) => cli::team::run(&paths, args),
    }
}

fn serve(
    host: Option<String>,
    port: Option<u16>,
    file: Option<std::path::PathBuf>,
    team: TeamServeArgs,
) -> anyhow::Result<()> {
    let mut config =
        config::from_env(&|k| std::env::var(k).ok(), host, port).map_err(|e| anyhow::anyhow!(e))?;
    if file.is_some() {
        config.config_file = file;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tls = team.tls_cert.zip(team.tls_key);
    if let Some((cert, key)) = &tls {
        // A wrong path or a key that does not match fails here, before anything starts.
        conduit::tls::server_config(cert, key)?;
    }
    let result = if team.team {
        runtime.block_on(server::serve_team(config, server::TeamOptions { tls }))
    } else {
        runtime.block_on(server::serve(config))
    };
    if let Err(e) = &result {
        // A daemon's stderr goes nowhere; the log is where `conduit start` looks.
        tracing::error!("conduit serve failed: {e:#}");
    }
    result
}
