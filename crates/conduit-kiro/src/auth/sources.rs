//! Where credentials come from (docs/configuration.md, "Credential sources"), and following
//! the token file when someone else replaces it.

use std::path::{Path, PathBuf};

use super::file::{self, Source, ENV_TOKEN_FILE};
use super::{import, registry, store, Creds, Inner, State};
use crate::config::KiroConfig;

impl Inner {
    /// Takes over the token file's credentials when someone else changed it since we read it:
    /// a new sign-in (`conduit login`, a re-import) replaces the whole credential set at once,
    /// not only at the next refresh; the Kiro IDE's own refresh of a file used in place is
    /// adopted too. One `stat` per request; the file is read only when it changed.
    pub(super) fn follow_file(&self, st: &mut State) {
        let Some(source @ Source::File(path)) = &st.source else {
            return;
        };
        let mtime = mtime_of(source);
        if mtime.is_none() || mtime == st.file_mtime {
            return;
        }
        st.file_mtime = mtime;
        let Ok(mut disk) = file::read_token_file(path, &self.config.region) else {
            return;
        };
        if let Some(arn) = &self.config.profile_arn {
            disk.profile_arn = Some(arn.clone());
        }
        let Some(ours) = &st.creds else {
            return;
        };
        let same = disk.refresh_token == ours.refresh_token
            && disk.client_id == ours.client_id
            && disk.kind == ours.kind
            && (disk.profile_arn == ours.profile_arn || disk.profile_arn.is_none());
        if same {
            return;
        }
        tracing::info!(source = %source.describe(), "the token file was replaced (a new sign-in or another program's refresh); using it");
        st.creds = Some(disk);
        st.generation += 1;
        st.blocked = None;
        st.last_error = None;
    }
}

pub(super) fn load(config: &KiroConfig) -> Result<(Creds, Source), String> {
    let (mut creds, source) = match &config.creds_file {
        Some(path) => (
            file::read_token_file(path, &config.region)?,
            Source::File(path.clone()),
        ),
        None if config.discover => discover(config)?,
        None => match &config.refresh_token {
            Some(rt) => env_source(config, rt),
            None => return Err(NO_CREDENTIALS.into()),
        },
    };
    if let Some(arn) = &config.profile_arn {
        creds.profile_arn = Some(arn.clone());
    }
    Ok((creds, source))
}

const NO_CREDENTIALS: &str = "no Kiro credentials found: run `conduit login` (or sign in with the Kiro IDE or kiro-cli, or set KIRO_REFRESH_TOKEN)";

/// The documented order (docs/configuration.md, "Credential sources"): conduit's own store
/// (sign-ins and imports), the Kiro IDE token file, kiro-cli's token file
/// (`kiro-auth-token-cli.json`), the kiro-cli database (copied into the own store on first
/// use), `KIRO_REFRESH_TOKEN`.
fn discover(config: &KiroConfig) -> Result<(Creds, Source), String> {
    if let Some(path) = own_token_file(&config.data_dir)? {
        let creds = file::read_token_file(&path, &config.region)?;
        return Ok((creds, Source::File(path)));
    }
    // The Kiro IDE's token file, then kiro-cli's newer one (same shape).
    let token_file = [&config.ide_creds_file, &config.cli_creds_file]
        .into_iter()
        .flatten()
        .find(|p| p.exists());
    if let Some(path) = token_file {
        let creds = file::read_token_file(path, &config.region)?;
        return Ok((creds, Source::File(path.clone())));
    }
    let db = match &config.cli_db_file {
        Some(p) => Some(p.clone()),
        None => config
            .cli_db_default_paths
            .iter()
            .find(|p| p.exists())
            .cloned(),
    };
    if let Some(db) = db.filter(|p| p.exists()) {
        let backend = store::resolve(config.secret_store).0;
        let entry = import::import_kiro_cli(&db, &config.data_dir, backend)?;
        tracing::info!(db = %db.display(), account = %entry.id, "copied the kiro-cli sign-in into conduit's store");
        let creds = file::read_token_file(&entry.token_file, &config.region)?;
        return Ok((creds, Source::File(entry.token_file)));
    }
    if let Some(rt) = &config.refresh_token {
        return Ok(env_source(config, rt));
    }
    Err(NO_CREDENTIALS.into())
}

/// The default account's token file from the registry, or `data/kiro-auth-token.json`.
pub fn own_token_file(data_dir: &Path) -> Result<Option<PathBuf>, String> {
    let reg = registry::Registry::load(data_dir)?;
    if let Some(a) = reg.default_account() {
        return Ok(Some(a.token_file.clone()));
    }
    let default = data_dir.join(registry::DEFAULT_TOKEN_FILE);
    Ok(default.exists().then_some(default))
}

fn env_source(config: &KiroConfig, rt: &str) -> (Creds, Source) {
    let state_file = config.data_dir.join(ENV_TOKEN_FILE);
    let creds = file::env_creds(rt, &state_file, &config.region);
    (creds, Source::Env { state_file })
}

pub(super) fn mtime_of(source: &Source) -> Option<std::time::SystemTime> {
    match source {
        Source::File(path) => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
        Source::Env { .. } => None,
    }
}
