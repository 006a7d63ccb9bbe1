//! Test helpers (feature `testing`): a throwaway Postgres database per test and a temp SQLite
//! store, both migrated.

use std::path::PathBuf;

use sqlx::{Connection, PgConnection};

use crate::{Store, StoreError};

/// What [`temp_sqlite`] keeps its store in, named for callers without a `tempfile` dependency.
pub use tempfile::TempDir;

/// The server tests create their databases on, unless `CONDUIT_TEST_PG_URL` says otherwise
/// (`scripts/postgres.sh` exports it, starting a throwaway cluster when none is running).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The maintenance URL tests connect to: `CONDUIT_TEST_PG_URL` or [`DEFAULT_PG_URL`].
pub fn pg_admin_url() -> String {
    std::env::var("CONDUIT_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_owned())
}

/// A fresh database `conduit_t_<uuid>` on the test server, dropped (`WITH (FORCE)`) by
/// [`TempDb::close`], or failing that when dropped (a blocking drop on a helper thread).
#[derive(Debug)]
pub struct TempDb {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl TempDb {
    /// Create the database. Fails (never skips) when the server is unreachable.
    pub async fn create() -> Result<TempDb, StoreError> {
        let admin_url = pg_admin_url();
        let name = format!("conduit_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin(&admin_url).await?;
        let create = format!("CREATE DATABASE \"{name}\"");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let url = with_database(&admin_url, &name);
        Ok(TempDb {
            admin_url,
            name,
            url,
            dropped: false,
        })
    }

    /// The database's URL (`postgres://…/conduit_t_…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Open a store on the database and migrate it.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let store = Store::open(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Drop the database, ending its connections.
    pub async fn close(mut self) -> Result<(), StoreError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: this may run inside an async test.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if let Err(e) = rt.block_on(drop_database(&admin_url, &name)) {
                tracing::warn!(database = %name, error = %e, "dropping a test database failed");
            }
        });
        let _ = dropper.join();
    }
}

async fn admin(url: &str) -> Result<PgConnection, StoreError> {
    let connect = PgConnection::connect(url);
    match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer from the test Postgres within 5 s (CONDUIT_TEST_PG_URL={})",
            redact(url)
        ))),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let mut conn = admin(admin_url).await?;
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// `url` with its database (the path) replaced by `name`, the query kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[start..].find('/') {
        Some(slash) => &base[..start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match (url[start..].find('@'), url[start..].find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}***{}", &url[..start + colon + 1], &url[start + at..])
        }
        _ => url.to_owned(),
    }
}

/// A migrated SQLite store in a fresh temp directory (removed when the `TempDir` drops).
pub async fn temp_sqlite() -> Result<(TempDir, PathBuf, Store), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Internal(format!("tempdir: {e}")))?;
    let path = dir.path().join("team.db");
    let store = Store::open_sqlite(&path).await?;
    store.migrate().await?;
    Ok((dir, path, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(redact("postgres://u:secret@h/x"), "postgres://u:***@h/x");
        assert_eq!(redact("postgres://u@h:5/x"), "postgres://u@h:5/x");
    }
}
