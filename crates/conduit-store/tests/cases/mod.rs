//! The repository cases, by concern; the table that runs them is in `repository.rs`.

pub mod credentials;
pub mod feed;
pub mod users;
