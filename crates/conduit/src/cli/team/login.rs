//! `conduit team login URL` / `logout`: a session from `POST /auth/login`, saved for the other
//! admin commands; and reading secrets from stdin or a no-echo terminal prompt.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use serde_json::json;

use super::cell;
use super::http::{normalize_url, Api};
use super::session::{self, Session};
use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

pub struct LoginArgs {
    pub url: String,
    pub username: Option<String>,
    pub password_stdin: bool,
    pub ca_cert: Option<PathBuf>,
}

pub fn login(paths: &Paths, args: &LoginArgs, json: bool) -> Outcome {
    let url = normalize_url(&args.url)?;
    let ca_cert = match &args.ca_cert {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the CA certificate {}", p.display()))?,
        ),
        None => None,
    };
    let username = match &args.username {
        Some(u) => u.clone(),
        None if args.password_stdin => {
            return Err(anyhow!(
                "--password-stdin needs --username (stdin holds the password)"
            ))
        }
        None => prompt_line("Username: ")?,
    };
    let password = if args.password_stdin {
        read_stdin_secret("password")?
    } else {
        prompt_hidden("Password: ")?
    };
    let api = Api::new(&url, ca_cert.as_deref(), None)?;
    let answer = api.post(
        "/auth/login",
        Some(&json!({ "username": username, "password": password })),
    )?;
    let token = answer["token"].as_str().ok_or_else(|| {
        anyhow!("{url}/auth/login answered without a token: is this a conduit team gateway?")
    })?;
    let session = Session {
        url: url.clone(),
        token: token.to_string(),
        expires_at: cell(&answer["expires_at"]),
        ca_cert,
        role: answer["role"].as_str().map(str::to_string),
        username: Some(username.clone()),
    };
    let file = session.save(paths)?;
    if json {
        // The token stays in the session file, out of logs and terminals.
        output::json(&json!({
            "url": url, "username": username, "role": answer["role"],
            "user_id": answer["user_id"], "expires_at": answer["expires_at"],
            "session_file": file.display().to_string(),
        }));
        return crate::cli::ok();
    }
    line(format!(
        "Logged in to {url} as {username} ({}).",
        cell(&answer["role"])
    ));
    output::rows(&[
        ("session until", session.expires_at.clone()),
        ("saved in", format!("{} (mode 0600)", paths.show(&file))),
    ]);
    crate::cli::ok()
}

pub fn logout(paths: &Paths, json: bool) -> Outcome {
    let ended = match Api::from_session(paths) {
        Ok(api) => api.post("/auth/logout", None).is_ok(),
        Err(_) => false,
    };
    let removed = session::remove(paths)?;
    if json {
        output::json(&json!({ "logged_out": removed, "session_ended_on_gateway": ended }));
    } else if removed {
        line("Logged out.");
    } else {
        line("Not logged in.");
    }
    crate::cli::ok()
}

/// All of stdin, without the trailing newline; an error when empty.
pub fn read_stdin_secret(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    let secret = text.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        return Err(anyhow!("no {what} on stdin"));
    }
    Ok(secret)
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(anyhow!("no terminal to ask on: pass --username"));
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    let answer = answer.trim().to_string();
    if answer.is_empty() {
        return Err(anyhow!("no username given"));
    }
    Ok(answer)
}

/// Ask on the terminal with echo off (restored afterwards, whatever happens).
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(anyhow!(
            "no terminal to ask the password on: pass --password-stdin"
        ));
    }
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn echo off")?;
    let mut answer = String::new();
    let read = stdin.lock().read_line(&mut answer);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    read.context("cannot read the password")?;
    restored.context("cannot turn echo back on")?;
    let answer = answer.trim_end_matches(['\r', '\n']).to_string();
    if answer.is_empty() {
        return Err(anyhow!("no password given"));
    }
    Ok(answer)
}
