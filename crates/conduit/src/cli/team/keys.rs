//! `conduit team keys create|list|revoke`: virtual keys over `/admin/keys` (or `/me/keys` when
//! the session belongs to a member). The secret is printed once, at creation.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::http::Api;
use super::session::Session;
use super::{cell, table};
use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

#[derive(Subcommand)]
pub enum Action {
    /// Create a key; its secret is shown only this once.
    Create {
        #[arg(long)]
        name: String,
        /// Requests per minute allowed with this key, across all instances.
        #[arg(long, value_name = "R")]
        rpm: Option<i64>,
        /// The owner [default: you].
        #[arg(long, value_name = "ID")]
        user: Option<String>,
        /// [default: the owner's team]
        #[arg(long, value_name = "ID")]
        team: Option<String>,
        /// When the key stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z).
        #[arg(long, value_name = "RFC3339")]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key: refused at once, on every instance within a second.
    Revoke { id: String },
}

pub fn run(paths: &Paths, action: Action, json: bool) -> Outcome {
    let session = Session::load(paths)?;
    let member = session.role.as_deref() == Some("member");
    let base = if member { "/me/keys" } else { "/admin/keys" };
    let api = Api::for_session(&session)?;
    match action {
        Action::Create {
            name,
            rpm,
            user,
            team,
            expires,
        } => {
            if member && (user.is_some() || team.is_some()) {
                return Err(anyhow!(
                    "--user and --team need an admin session; members create their own keys"
                ));
            }
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            for (k, v) in [
                ("rate_limit_rpm", rpm.map(Value::from)),
                ("user_id", user.map(Value::from)),
                ("team_id", team.map(Value::from)),
                ("expires_at", expires.map(Value::from)),
            ] {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            let created = api.post(base, Some(&Value::Object(body)))?;
            if json {
                output::json(&created);
                return crate::cli::ok();
            }
            line(format!("Key created: {}", cell(&created["key"])));
            output::note("The key is shown only this once: store it now.");
            output::rows(&[
                ("id", cell(&created["id"])),
                ("name", cell(&created["name"])),
                ("prefix", cell(&created["prefix"])),
                ("expires", cell(&created["expires_at"])),
            ]);
        }
        Action::List => {
            let listed = api.get(base)?;
            if json {
                output::json(&listed);
                return crate::cli::ok();
            }
            let keys = listed["keys"].as_array().cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    vec![
                        cell(&k["id"]),
                        cell(&k["prefix"]),
                        cell(&k["name"]),
                        cell(&k["user_id"]),
                        cell(&k["team_id"]),
                        cell(&k["rate_limit_rpm"]),
                        cell(&k["created_at"]),
                        cell(&k["last_used_at"]),
                        cell(&k["expires_at"]),
                        status(k).into(),
                    ]
                })
                .collect();
            table::print(
                &[
                    "ID",
                    "PREFIX",
                    "NAME",
                    "USER",
                    "TEAM",
                    "RPM",
                    "CREATED",
                    "LAST USED",
                    "EXPIRES",
                    "STATUS",
                ],
                &rows,
                "No keys.",
            );
        }
        Action::Revoke { id } => {
            let answer = api.post(&format!("{base}/{id}/revoke"), None)?;
            if json {
                output::json(&answer);
            } else {
                line(format!("Key {id} revoked."));
            }
        }
    }
    crate::cli::ok()
}

fn status(key: &Value) -> &'static str {
    if key["revoked"] == true {
        "revoked"
    } else if key["is_active"] == false {
        "expired"
    } else {
        "active"
    }
}
