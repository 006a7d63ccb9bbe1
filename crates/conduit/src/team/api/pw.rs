//! TEMPORARY stand-in for `crate::team::password` (H-core's, not committed yet): refuses every
//! password, so nothing signs in until the real argon2id module replaces it.

use conduit_core::Error;

pub fn verify(_password: &str, _phc: &str) -> bool {
    false
}

pub fn dummy_verify(_password: &str) {}

pub fn hash(_password: &str) -> Result<String, Error> {
    Err(Error::internal("password hashing is not available yet"))
}
