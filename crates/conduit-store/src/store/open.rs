//! Opening a store: the URL forms, a private SQLite file (0600, WAL, busy timeout, foreign
//! keys), and small pools with short timeouts so that an unreachable server fails fast.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, AnyPool};

use super::{Engine, Store, ACQUIRE_TIMEOUT};
use crate::StoreError;

/// SQLite waits this long for another writer's lock before giving up.
const SQLITE_BUSY_MS: u32 = 5000;
const SQLITE_POOL: u32 = 4;
const POSTGRES_POOL: u32 = 8;

impl Store {
    /// Open `url`: `sqlite://PATH`, `sqlite:PATH` or a bare path (the file created 0600, WAL,
    /// busy timeout, foreign keys), or `postgres://…` / `postgresql://…`. Does not migrate.
    /// An unreachable server fails within a few seconds with `Unavailable`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Store::open_postgres(url).await;
        }
        let path = match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            // A URL: the query (`?mode=rwc`) is not ours to honour (the file is created
            // below), the path is percent-decoded.
            Some(rest) => decode_path(rest.split('?').next().unwrap_or(rest))?,
            None => url.to_owned(),
        };
        if path.is_empty() || path == ":memory:" {
            return Err(StoreError::Internal(format!(
                "the team store needs a database file, not {url:?}"
            )));
        }
        Store::open_sqlite(Path::new(&path)).await
    }

    /// Open (creating) the SQLite file at `path`: a missing parent directory is created 0700,
    /// the file 0600 (an existing file is narrowed to 0600).
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let path = std::path::absolute(path)
            .map_err(|e| StoreError::Internal(format!("{}: {e}", path.display())))?;
        create_private_file(&path)?;
        let url = format!("sqlite://{}?mode=rw", encode_path(&path.to_string_lossy()));
        let options: AnyConnectOptions = url.parse().map_err(StoreError::from)?;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(SQLITE_POOL)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(sqlite_pragmas)
            .connect_with(options)
            .await?;
        // The journal mode is a property of the file: set once, before other connections open
        // (changing it takes a lock that the busy timeout does not wait for).
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
        Ok(Store::new(Engine::Sqlite, pool, String::new()))
    }

    async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|_| StoreError::Internal("DATABASE_URL is not a valid URL".into()))?;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(POSTGRES_POOL)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await?;
        Ok(Store::new(Engine::Postgres, pool, url.to_owned()))
    }

    fn new(engine: Engine, pool: AnyPool, url: String) -> Store {
        Store {
            engine,
            pool,
            url: url.into(),
            rate_calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Create `path` 0600 (and a missing parent 0700) before SQLite opens it, so that the file is
/// never readable by others, not even for a moment.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Internal(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io)?;
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    Ok(())
}

/// Percent-encode what a URL or SQLite's URL parser would read as syntax (`%`, `?`, `#`,
/// spaces, non-ASCII).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~+,=@:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decode the path of a `sqlite:` URL.
fn decode_path(path: &str) -> Result<String, StoreError> {
    let bad = || StoreError::Internal(format!("bad percent-encoding in the SQLite URL {path:?}"));
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Every SQLite connection: a busy timeout and foreign keys enforced (sqlx's defaults too, made
/// explicit here because the store depends on them).
fn sqlite_pragmas(
    conn: &mut AnyConnection,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        let busy = format!("PRAGMA busy_timeout = {SQLITE_BUSY_MS}");
        sqlx::query(sqlx::AssertSqlSafe(busy))
            .execute(&mut *conn)
            .await?;
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
}
