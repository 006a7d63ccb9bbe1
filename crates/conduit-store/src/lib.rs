//! The team gateway's store, the only crate that speaks SQL: one schema (migrations embedded,
//! applied at start) on SQLite (one instance) or Postgres (several). Every write that changes
//! who may call bumps one change version in the same transaction as its audit row, so that
//! instances catch up with `changes_since` (woken by Postgres NOTIFY, backed by a poll).
//!
//! Feature `testing`: [`testing::TempDb`] (a throwaway Postgres database on
//! `CONDUIT_TEST_PG_URL`) and [`testing::temp_sqlite`].

mod error;
mod model;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use model::*;
pub use store::{ChangeListener, Engine, Store, AUDIT_PAGE_MAX, LIMIT_PAGE_MAX};
pub use store::{LimitTx, RateLimit, RateScope};
