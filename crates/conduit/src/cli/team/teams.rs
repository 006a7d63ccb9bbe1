//! `conduit team teams create|list` over `/admin/teams`.

use clap::Subcommand;
use serde_json::json;

use super::http::Api;
use super::{cell, table};
use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

#[derive(Subcommand)]
pub enum Action {
    /// Create a team.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List teams.
    List,
}

pub fn run(paths: &Paths, action: Action, json: bool) -> Outcome {
    let api = Api::from_session(paths)?;
    match action {
        Action::Create { name } => {
            let team = api.post("/admin/teams", Some(&json!({ "name": name })))?;
            if json {
                output::json(&team);
            } else {
                line(format!(
                    "Team {} created: {}",
                    cell(&team["name"]),
                    cell(&team["id"])
                ));
            }
        }
        Action::List => {
            let listed = api.get("/admin/teams")?;
            if json {
                output::json(&listed);
                return crate::cli::ok();
            }
            let teams = listed["teams"].as_array().cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = teams
                .iter()
                .map(|t| vec![cell(&t["id"]), cell(&t["name"]), cell(&t["created_at"])])
                .collect();
            table::print(&["ID", "NAME", "CREATED"], &rows, "No teams.");
        }
    }
    crate::cli::ok()
}
