//! The store's one error type: what a caller must tell apart, never a driver's Debug text.

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
