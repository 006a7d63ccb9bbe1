//! `conduit team init` and `conduit team reset-admin`: run on the server host with the server's
//! environment (`DATABASE_URL`, else SQLite at `$CONDUIT_HOME/data/team.db`); they open the
//! store directly and print the generated password once.

use anyhow::{anyhow, Context};
use conduit_store::Store;
use serde_json::json;

use crate::cli::output::{self, line};
use crate::cli::{env, Outcome, Paths};

/// Where the store is, for people: the URL without its password, or the SQLite path.
fn location(paths: &Paths) -> (Option<String>, std::path::PathBuf) {
    let sqlite = paths.home.join("data").join("team.db");
    (env("DATABASE_URL"), sqlite)
}

fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Open and migrate the store the server uses, on a runtime for this command.
fn with_store<T>(
    paths: &Paths,
    f: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<(T, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (url, sqlite) = location(paths);
    runtime.block_on(async {
        let (store, shown) = match &url {
            Some(u) => (
                Store::open(u)
                    .await
                    .with_context(|| format!("cannot open the team store {}", redact(u)))?,
                redact(u),
            ),
            None => (
                Store::open_sqlite(&sqlite)
                    .await
                    .with_context(|| format!("cannot open the team store {}", sqlite.display()))?,
                sqlite.display().to_string(),
            ),
        };
        store
            .migrate()
            .await
            .with_context(|| format!("cannot migrate the team store {shown}"))?;
        Ok((f(&store).await?, shown))
    })
}

/// `cli@<hostname>`: who the audit log says did it.
fn actor_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| env("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("cli@{host}")
}

fn shown_once(action: &str, password: &str, store: &str, json: bool) {
    if json {
        output::json(&json!({
            "username": "admin", "password": password, "store": store, "action": action,
        }));
    } else {
        line(format!("{action} in {store}."));
        output::rows(&[("username", "admin".into()), ("password", password.into())]);
        line("This password is shown only once: store it now (a password manager).");
        line("Sign in with: conduit team login URL --username admin");
    }
}

pub fn init(paths: &Paths, json: bool) -> Outcome {
    let actor = actor_name();
    let (password, store) = with_store(paths, async |store| bootstrap_init(store, &actor).await)?;
    shown_once("Created the user admin", &password, &store, json);
    crate::cli::ok()
}

pub fn reset_admin(paths: &Paths, json: bool) -> Outcome {
    let actor = actor_name();
    let (password, store) = with_store(paths, async |store| bootstrap_reset(store, &actor).await)?;
    shown_once(
        "New password for admin (its sessions are ended)",
        &password,
        &store,
        json,
    );
    crate::cli::ok()
}

// The bootstrap itself is H-core's `conduit::team::bootstrap`; these bridge to it.
async fn bootstrap_init(_store: &Store, _actor: &str) -> anyhow::Result<String> {
    Err(anyhow!(
        "team init is not wired to conduit::team::bootstrap yet"
    ))
}

async fn bootstrap_reset(_store: &Store, _actor: &str) -> anyhow::Result<String> {
    Err(anyhow!(
        "team reset-admin is not wired to conduit::team::bootstrap yet"
    ))
}
