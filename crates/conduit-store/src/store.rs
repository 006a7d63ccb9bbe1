//! The store handle: one `AnyPool` on SQLite or Postgres, the embedded migrations and the
//! readiness check. Opening is in `open`; the calls live in one submodule per concern.

mod audit;
mod authorize;
mod cli;
mod credentials;
mod device;
mod feed;
mod flows;
mod identity;
mod idps;
mod limits;
mod open;
mod prices;
mod prune;
mod rates;
mod refresh;
mod rows;
mod settings;
mod signing;
mod spend;
mod spend_limits;
mod teams;
mod users;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migrate, Migrator};
use sqlx::AnyPool;

use crate::StoreError;

pub use audit::AUDIT_PAGE_MAX;
pub use feed::ChangeListener;
pub use limits::{LimitTx, RateLimit, RateScope};
pub use spend_limits::LIMIT_PAGE_MAX;

/// The schema, embedded in the binary.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a caller waits for a connection (and so for an unreachable server) before the call
/// fails with `StoreError::Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

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
