//! The conduit gateway as a library: configuration, the HTTP surface and the server, so that the
//! binary and the integration tests assemble the same thing.

pub mod apikey;
pub mod config;
pub mod logging;
pub mod memory;
pub mod metrics;
mod named;
pub mod passthrough;
pub mod relay;
pub mod routes;
pub mod server;
pub mod state;
pub mod team;
pub mod tls;
pub mod wiring;
mod wiring_aws;
