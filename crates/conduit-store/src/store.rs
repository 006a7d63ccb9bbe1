//! The store handle: one `AnyPool` on SQLite or Postgres, opening (a private SQLite file, short
//! timeouts), the embedded migrations and the readiness check. The calls live in the submodules,
//! one per concern.

mod audit;
pub use audit::AUDIT_PAGE_MAX;
mod credentials;
mod feed;
mod rates;
mod rows;
mod teams;
mod users;

use std::fmt;
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{AnyConnection, AnyPool};

use crate::StoreError;

pub use feed::ChangeListener;

/// The schema, embedded in the binary.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a caller waits for a connection (and so for an unreachable server) before the call
/// fails with `StoreError::Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// SQLite waits this long for another writer's lock before giving up.
const SQLITE_BUSY_MS: u32 = 5000;
const SQLITE_POOL: u32 = 4;
const POSTGRES_POOL: u32 = 8;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A cheap-to-clone handle on the team store (a connection pool).
#[derive(Clone)]
pub struct Store {
    engine: Engine,
    pool: AnyPool,
    /// The Postgres URL, for the NOTIFY listener's own connection (never printed: it may hold a
    /// password).
    url: Arc<str>,
    /// Calls to `hit_rate`, to prune old rate windows now and then.
    rate_calls: Arc<AtomicU64>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

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

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Apply the embedded migrations not yet applied (Postgres: under an advisory lock, so that
    /// several instances starting together apply each once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// `Ok(())` when the database answers and every embedded migration is applied; else why not
    /// (`Unavailable` for the database, `Internal("migrations: …")` for the schema).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        let applied = match conn.list_applied_migrations(&MIGRATOR.table_name).await {
            Ok(applied) => applied,
            Err(e) => match StoreError::from(e) {
                StoreError::Unavailable(m) => return Err(StoreError::Unavailable(m)),
                _ => Vec::new(),
            },
        };
        let missing: Vec<i64> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .filter(|v| !applied.iter().any(|a| a.version == *v))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Internal(format!(
                "migrations: {} embedded migration(s) not applied (first: {})",
                missing.len(),
                missing[0]
            )))
        }
    }

    /// Close the pool: later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
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

/// Unix seconds now.
pub(crate) fn now_s() -> i64 {
    now_ms() / 1000
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A new row id: a UUID v7 (time-ordered) as text.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
