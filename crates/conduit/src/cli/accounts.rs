//! `accounts list|import|remove`: the Kiro accounts in `$CONDUIT_HOME/data/credentials.json`,
//! and the order in which conduit looks for credentials.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Subcommand;
use conduit_kiro::auth::registry::Registry;
use conduit_kiro::auth::{import, store};
use conduit_kiro::config::KiroConfig;
use serde_json::json;

use super::output::{self, line};
use super::{ok, Outcome, Paths};

#[derive(Subcommand)]
pub enum Action {
    /// The accounts conduit knows, and where it looks for credentials (in order).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Copy a sign-in from the Kiro IDE token file or the kiro-cli / Amazon Q database
    /// (default: whichever is found at the usual place).
    Import {
        /// A `kiro-auth-token.json` file or a kiro-cli `data.sqlite3`.
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Forget an account: its registry entry, its token file and keychain entries.
    Remove { id: String },
}

/// The documented order (docs/configuration.md, "Credential sources").
pub const SOURCES: [&str; 5] = [
    "1. conduit's own store: $CONDUIT_HOME/data/credentials.json (`conduit login`, `conduit accounts import`)",
    "2. the Kiro IDE token file: KIRO_CREDS_FILE, default ~/.aws/sso/cache/kiro-auth-token.json",
    "3. kiro-cli's token file: KIRO_CLI_CREDS_FILE, default ~/.aws/sso/cache/kiro-auth-token-cli.json",
    "4. the kiro-cli / Amazon Q database: KIRO_CLI_DB_FILE, default ~/.local/share/{kiro-cli,amazon-q}/data.sqlite3 (macOS: ~/Library/Application Support/...); copied into the own store on first use",
    "5. KIRO_REFRESH_TOKEN",
];

pub fn run(paths: &Paths, action: Action) -> Outcome {
    let config = KiroConfig::from_env(|k| std::env::var(k).ok(), data_dir(paths))
        .map_err(|e| anyhow!("invalid Kiro configuration: {e}"))?;
    let (backend, note) = store::resolve(config.secret_store);
    match action {
        Action::List { json } => list(paths, backend, note, json),
        Action::Import { path, json } => {
            let path = match path {
                Some(p) => p,
                None => default_import(&config)?,
            };
            let entry = if is_sqlite(&path) {
                import::import_kiro_cli(&path, &data_dir(paths), backend)
            } else {
                import::import_ide(&path, &data_dir(paths), backend)
            }
            .map_err(|e| anyhow!(e))?;
            if json {
                output::json(&json!({"imported": entry}));
            } else {
                line(format!(
                    "Imported {} ({}) from {}",
                    entry.id,
                    entry.label,
                    paths.show(&path)
                ));
                line("The tokens were copied; when that program refreshes first, conduit takes its newer tokens.");
            }
            ok()
        }
        Action::Remove { id } => remove(paths, &id),
    }
}

fn list(
    paths: &Paths,
    backend: store::SecretBackend,
    note: Option<String>,
    json_out: bool,
) -> Outcome {
    let reg = Registry::load(&data_dir(paths)).map_err(|e| anyhow!(e))?;
    if json_out {
        output::json(&json!({"accounts": reg.accounts, "secret_store": backend,
            "secret_store_note": note, "sources": SOURCES}));
        return ok();
    }
    if reg.accounts.is_empty() {
        line(
            "No accounts in conduit's store yet: run `conduit login` or `conduit accounts import`.",
        );
    }
    for (i, a) in reg.accounts.iter().enumerate() {
        let default = if i == 0 && a.enabled {
            " (default)"
        } else {
            ""
        };
        let state = if a.enabled { "" } else { " [disabled]" };
        line(format!("{}{default}{state}", a.id));
        output::rows(&[
            ("label", a.label.clone()),
            ("source", a.source.as_str().to_string()),
            (
                "profile",
                a.profile_arn.clone().unwrap_or_else(|| "none".into()),
            ),
            ("token file", paths.show(&a.token_file)),
            ("added", a.added_at.clone()),
        ]);
    }
    line(format!("Secrets are kept in: {backend}"));
    if let Some(n) = note {
        line(format!("  ({n})"));
    }
    line("Credential sources, in the order conduit uses them:");
    for s in SOURCES {
        line(format!("  {s}"));
    }
    ok()
}

fn default_import(config: &KiroConfig) -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = config.ide_creds_file.iter().cloned().collect();
    candidates.extend(config.cli_creds_file.iter().cloned());
    candidates.extend(config.cli_db_file.iter().cloned());
    candidates.extend(config.cli_db_default_paths.iter().cloned());
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        anyhow!("found no Kiro IDE token file or kiro-cli database: give the path, e.g. `conduit accounts import ~/.aws/sso/cache/kiro-auth-token.json`")
    })
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

fn remove(paths: &Paths, id: &str) -> Outcome {
    let data = data_dir(paths);
    let mut reg = Registry::load(&data).map_err(|e| anyhow!(e))?;
    let entry = reg
        .remove(id)
        .ok_or_else(|| anyhow!("no account {id}: see `conduit accounts list`"))?;
    if let Ok(text) = std::fs::read_to_string(&entry.token_file) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            for k in ["refreshToken", "clientSecret"] {
                if let Some(s) = v.get(k).and_then(|s| s.as_str()) {
                    store::forget(s);
                }
            }
        }
    }
    // Only conduit's own files are deleted, never an IDE's.
    if entry.token_file.starts_with(&data) {
        let _ = std::fs::remove_file(&entry.token_file);
    }
    reg.save(&data)?;
    line(format!("Removed {} ({})", entry.id, entry.label));
    ok()
}

/// `$CONDUIT_HOME/data`, where accounts live.
pub fn data_dir(paths: &Paths) -> PathBuf {
    paths.home.join("data")
}
