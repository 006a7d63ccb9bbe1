//! `conduit team …`: the team gateway's admin CLI. `init`, `reset-admin` and `cert` work on the
//! server host (store and files); `login`, `keys`, `users` and `teams` go over the HTTP API with
//! the session saved by `login`. `--json` everywhere prints the API's JSON.

pub mod cert;
pub mod http;
pub mod keys;
pub mod login;
pub mod server_host;
pub mod session;
pub mod spend;
pub mod table;
pub mod teams;
pub mod users;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Outcome, Paths};

#[derive(Args)]
pub struct TeamArgs {
    #[command(subcommand)]
    action: Action,
    /// Print JSON (the API's answer) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Server host: create the store and the user `admin` with a generated password (shown
    /// once). Refuses when an admin with a password exists.
    Init,
    /// Server host, break glass: a new generated password for `admin` (created or reactivated if
    /// need be; its sessions end), shown once.
    ResetAdmin,
    /// Make a self-signed certificate and key for `serve --team --tls-cert/--tls-key`.
    Cert {
        /// The host name clients use (localhost, 127.0.0.1 and ::1 are added).
        #[arg(long, value_name = "NAME")]
        host: String,
        /// Where to write cert.pem and key.pem [default: $CONDUIT_HOME/tls].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Sign in to a team gateway; the session is saved in $CONDUIT_HOME/team-session.json.
    Login {
        /// The gateway, e.g. https://gw.example.internal:8765
        url: String,
        /// [default: asked on the terminal]
        #[arg(long)]
        username: Option<String>,
        /// Read the password from stdin (for scripts) instead of asking.
        #[arg(long)]
        password_stdin: bool,
        /// Trust this PEM certificate (a self-signed gateway's cert.pem); remembered for the
        /// session.
        #[arg(long, value_name = "PEM")]
        ca_cert: Option<PathBuf>,
    },
    /// End the saved session (on the gateway too) and forget it.
    Logout,
    /// Virtual keys (`sk-proxy-…`).
    Keys {
        #[command(subcommand)]
        action: keys::Action,
    },
    /// Users and their roles.
    Users {
        #[command(subcommand)]
        action: users::Action,
    },
    /// Teams.
    Teams {
        #[command(subcommand)]
        action: teams::Action,
    },
    /// Who spent what (admins and auditors): requests, tokens and cost per user, team, key,
    /// model or day.
    Spend(spend::SpendArgs),
}

pub fn run(paths: &Paths, args: TeamArgs) -> Outcome {
    let json = args.json;
    match args.action {
        Action::Init => server_host::init(paths, json),
        Action::ResetAdmin => server_host::reset_admin(paths, json),
        Action::Cert { host, out } => cert::run(paths, &host, out, json),
        Action::Login {
            url,
            username,
            password_stdin,
            ca_cert,
        } => login::login(
            paths,
            &login::LoginArgs {
                url,
                username,
                password_stdin,
                ca_cert,
            },
            json,
        ),
        Action::Logout => login::logout(paths, json),
        Action::Keys { action } => keys::run(paths, action, json),
        Action::Users { action } => users::run(paths, action, json),
        Action::Teams { action } => teams::run(paths, action, json),
        Action::Spend(args) => spend::run(paths, args, json),
    }
}

/// A JSON field as text for a table cell: strings bare, null as `-`.
pub(crate) fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
