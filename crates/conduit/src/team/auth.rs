//! The bearer tiers of team mode, in order: a virtual key, a JWT (the gateway's own access
//! token when its `kid` is one of the gateway's signing keys, else an identity provider's), a
//! session token. (Issue 12 skeleton: H2 fills it in.)

use conduit_core::Error;

use super::Principal;
use crate::state::TeamState;

/// The principal a presented secret stands for, or the refusal to send.
pub async fn authenticate(team: &TeamState, secret: &str) -> Result<Principal, Error> {
    team.cache.authenticate(secret)
}
