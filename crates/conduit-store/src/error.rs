//! The store's one error type: what a caller must tell apart, never a driver's Debug text.

use sqlx::error::{DatabaseError, ErrorKind};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, refused, timed out): answer 503, retry later.
    #[error("the team store is unreachable: {0}")]
    Unavailable(String),
    /// The row named does not exist (`what` says which: "user", "team", "key").
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A unique name or subject is taken.
    #[error("{0}")]
    Conflict(String),
    /// Anything else (a schema mismatch, a bug): answer 500, logged with this text.
    #[error("team store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// True for `Unavailable`: the caller answers 503 and retries later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Classify a driver error by its type (and for database errors, by SQLSTATE / SQLite code):
/// connection trouble is `Unavailable`; a unique violation a generic `Conflict`; a foreign-key
/// violation a `NotFound`. Call sites that know which field or row is meant use `on_write`.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        on_write(e, "a row with this value already exists", "referenced row")
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        match e {
            MigrateError::Execute(inner) => StoreError::from(inner),
            MigrateError::ExecuteMigration(inner, version) => match StoreError::from(inner) {
                StoreError::Unavailable(m) => StoreError::Unavailable(m),
                other => StoreError::Internal(format!("migration {version}: {other}")),
            },
            other => StoreError::Internal(format!("migrations: {other}")),
        }
    }
}

/// Map a failed write: a unique violation becomes `Conflict(conflict)` (a message naming the
/// field), a foreign-key violation `NotFound { what: missing }`, the rest as [`From`].
pub(crate) fn on_write(e: sqlx::Error, conflict: &str, missing: &'static str) -> StoreError {
    match e {
        sqlx::Error::Io(io) => StoreError::Unavailable(io.to_string()),
        sqlx::Error::Tls(tls) => StoreError::Unavailable(format!("TLS: {tls}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable("the connection pool is closed".into()),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable("the database connection worker stopped".into())
        }
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(conflict.to_owned()),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound { what: missing },
            _ if unreachable_db(db.as_ref()) => StoreError::Unavailable(db.message().to_owned()),
            _ => StoreError::Internal(format!(
                "database error {}: {}",
                db.code().as_deref().unwrap_or("?"),
                db.message()
            )),
        },
        other => StoreError::Internal(other.to_string()),
    }
}

/// A database error that says the server cannot serve now: Postgres connection exceptions
/// (class 08), shutdown and start-up (57P01-57P03), resource exhaustion (class 53); SQLite busy,
/// locked, cannot-open and I/O errors (primary codes 5, 6, 14, 10).
fn unreachable_db(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03");
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite's extended result code: the primary code is the low byte.
        let primary = db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .map(|n| n & 0xff);
        return matches!(primary, Some(5 | 6 | 10 | 14));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_and_io_are_unavailable() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(io)).is_unavailable());
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Internal(_)
        ));
    }
}
