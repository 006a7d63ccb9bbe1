//! `conduit team users create|list|set-team|deactivate|activate` over `/admin/users`.

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::http::Api;
use super::login::read_stdin_secret;
use super::{cell, table};
use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

#[derive(Subcommand)]
pub enum Action {
    /// Create a user.
    Create {
        /// The sign-in name.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_parser = ["member", "admin", "auditor"])]
        role: Option<String>,
        #[arg(long, value_name = "ID")]
        team: Option<String>,
        /// Read a password for the user from stdin (without one they cannot log in).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Put a user in a team (`none`: in no team).
    SetTeam {
        id: String,
        #[arg(value_name = "TEAM|none")]
        team: String,
    },
    /// Turn a user off: their keys and sessions stop working at once.
    Deactivate { id: String },
    /// Turn a user back on.
    Activate { id: String },
}

pub fn run(paths: &Paths, action: Action, json: bool) -> Outcome {
    let api = Api::from_session(paths)?;
    let (answer, done) = match action {
        Action::Create {
            subject,
            email,
            role,
            team,
            password_stdin,
        } => {
            let mut body = Map::new();
            body.insert("subject".into(), json!(subject));
            let password = if password_stdin {
                Some(read_stdin_secret("password")?)
            } else {
                None
            };
            for (k, v) in [
                ("email", email),
                ("role", role),
                ("team_id", team),
                ("password", password),
            ] {
                if let Some(v) = v {
                    body.insert(k.into(), Value::from(v));
                }
            }
            let user = api.post("/admin/users", Some(&Value::Object(body)))?;
            let done = format!(
                "User {} created ({}): {}",
                cell(&user["subject"]),
                cell(&user["role"]),
                cell(&user["id"])
            );
            (user, done)
        }
        Action::List => {
            let listed = api.get("/admin/users")?;
            if !json {
                print_list(&listed);
                return crate::cli::ok();
            }
            (listed, String::new())
        }
        Action::SetTeam { id, team } => {
            let team_id = match team.as_str() {
                "none" | "-" => Value::Null,
                t => json!(t),
            };
            let answer = api.put(
                &format!("/admin/users/{id}/team"),
                &json!({ "team_id": team_id }),
            )?;
            let done = match team.as_str() {
                "none" | "-" => format!("User {id} is in no team now."),
                t => format!("User {id} is in team {t} now."),
            };
            (answer, done)
        }
        Action::Deactivate { id } => set_active(&api, &id, false)?,
        Action::Activate { id } => set_active(&api, &id, true)?,
    };
    if json {
        output::json(&answer);
    } else {
        line(done);
    }
    crate::cli::ok()
}

fn set_active(api: &Api, id: &str, active: bool) -> anyhow::Result<(Value, String)> {
    let user = api.patch(&format!("/admin/users/{id}"), &json!({ "active": active }))?;
    let done = if active {
        format!("User {} is active again.", cell(&user["subject"]))
    } else {
        format!(
            "User {} is deactivated: their keys and sessions are refused.",
            cell(&user["subject"])
        )
    };
    Ok((user, done))
}

fn print_list(listed: &Value) {
    let users = listed["users"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                cell(&u["id"]),
                cell(&u["subject"]),
                cell(&u["email"]),
                cell(&u["role"]),
                cell(&u["team_id"]),
                if u["active"] == false { "no" } else { "yes" }.into(),
                cell(&u["created_at"]),
            ]
        })
        .collect();
    table::print(
        &[
            "ID", "SUBJECT", "EMAIL", "ROLE", "TEAM", "ACTIVE", "CREATED",
        ],
        &rows,
        "No users.",
    );
}
