//! `conduit team init` and `conduit team reset-admin`: run on the server host with the server's
//! environment (`DATABASE_URL`, else SQLite at `$CONDUIT_HOME/data/team.db`); they open the
//! store exactly as `serve --team` does, migrate it, and print the generated password once.

use anyhow::{anyhow, Context};
use conduit::team::bootstrap;
use conduit_store::Store;
use serde_json::json;

use crate::cli::output::{self, line};
use crate::cli::{Outcome, Paths};

/// The store `serve --team` would use, for people: never a password from the URL.
fn shown(team: &conduit::config::team::TeamConfig, paths: &Paths) -> String {
    match &team.database_url {
        Some(url) => match reqwest::Url::parse(url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "DATABASE_URL".into(),
        },
        None => paths
            .home
            .join("data")
            .join("team.db")
            .display()
            .to_string(),
    }
}

/// Open and migrate the server's store, run `f` on it; also says which store it was.
fn with_store<T>(
    paths: &Paths,
    f: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<(T, String)> {
    let env = |k: &str| std::env::var(k).ok();
    let config = conduit::config::from_env(&env, None, None).map_err(|e| anyhow!(e))?;
    let team = conduit::config::team::from_env(&env).map_err(|e| anyhow!(e))?;
    let where_ = shown(&team, paths);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = conduit::team::serve::open_store(&config, &team).await?;
        store
            .migrate()
            .await
            .with_context(|| format!("cannot apply the migrations of the team store {where_}"))?;
        let result = f(&store).await;
        store.close().await;
        Ok((result?, where_))
    })
}

fn shown_once(what: &str, password: &str, store: &str, json: bool) {
    if json {
        output::json(
            &json!({ "username": bootstrap::ADMIN, "password": password, "store": store }),
        );
        return;
    }
    line(format!("{what} (store: {store})."));
    output::rows(&[
        ("username", bootstrap::ADMIN.into()),
        ("password", password.into()),
    ]);
    line("This password is shown only once: keep it somewhere safe (a password manager).");
    line(format!(
        "Sign in with: conduit team login URL --username {}",
        bootstrap::ADMIN
    ));
}

pub fn init(paths: &Paths, json: bool) -> Outcome {
    let actor = bootstrap::cli_actor();
    let (password, store) = with_store(paths, async |s| bootstrap::init(s, &actor).await)?;
    shown_once("Created the user admin", &password, &store, json);
    crate::cli::ok()
}

pub fn reset_admin(paths: &Paths, json: bool) -> Outcome {
    let actor = bootstrap::cli_actor();
    let (password, store) = with_store(paths, async |s| bootstrap::reset_admin(s, &actor).await)?;
    shown_once(
        "New password for admin; its sessions are ended",
        &password,
        &store,
        json,
    );
    crate::cli::ok()
}
