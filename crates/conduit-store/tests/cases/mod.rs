//! The repository cases, by concern; the table that runs them is in `repository.rs`.

pub mod credentials;
pub mod feed;
pub mod sso_authorize;
pub mod sso_device;
pub mod sso_flows;
pub mod sso_idps;
pub mod sso_misc;
pub mod sso_refresh;
pub mod users;
