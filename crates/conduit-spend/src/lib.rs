//! Money without IO: what a request cost and whether the next one may go.
//!
//! Pure functions and data only (no tokio, no network, no database): the gateway records usage
//! and reads totals elsewhere, and asks this crate to price a request ([`Pricer`]), to name the
//! budget window a moment falls in ([`Period::window`]) and to decide whether a caller is over a
//! spend limit ([`budget::evaluate`]).
//!
//! Units: rates are **micro-dollars per million tokens** (`$3.75/MTok` = `3_750_000`); costs are
//! **nano-dollars** (`i64`), so a token count times a rate divided by 1000 is exact for every rate
//! that is a multiple of $0.001/MTok.

pub mod budget;
pub mod cost;
mod list;
pub mod model;
pub mod period;
pub mod price;
pub mod pricer;
pub mod rates;

pub use budget::{evaluate, Caller, Limit, Scope, Verdict};
pub use cost::{cost_nanos, usd, Counters};
pub use period::{parse_tz, Period};
pub use price::{PriceEntry, PriceTable};
pub use pricer::{Override, Priced, Pricer, KIRO_CREDIT_MICROS};
pub use rates::{Band, Rates};

/// The `jiff` this crate is built with, so callers can hold a [`jiff::tz::TimeZone`] without
/// naming the dependency themselves.
pub use jiff;
