//! Budget periods: the calendar window (in the configured time zone) a moment falls in.
//!
//! Days, weeks (starting Monday) and months are aligned to local midnight in the zone set by
//! `SPEND_TIME_ZONE` (default UTC); `total` never resets. Windows are computed on civil dates and
//! converted to instants last, so a 23- or 25-hour DST day is one whole day, and a midnight that
//! a DST jump skips starts at the first instant that exists (jiff's "compatible" disambiguation).

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// How often a spend limit resets. The serde and database spelling is the lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Local midnight to local midnight.
    Daily,
    /// Monday 00:00 to the next Monday 00:00.
    Weekly,
    /// The 1st 00:00 to the next month's 1st 00:00.
    Monthly,
    /// Never resets; the window starts at 0.
    Total,
}

impl Period {
    /// Every period, in the order reports list them.
    pub const ALL: [Period; 4] = [
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Total,
    ];

    /// The lowercase name used on the wire and in the `period` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Total => "total",
        }
    }

    /// The window containing `now_s` (Unix seconds): `(start_s, Some(end_s))` with
    /// `start_s <= now_s < end_s`, or `(0, None)` for [`Period::Total`].
    ///
    /// `start_s` is the `period_start` key of `spend_totals`; `end_s` is when the limit resets.
    /// Instants outside jiff's range (about ±9999 years) are clamped into it.
    pub fn window(self, now_s: i64, tz: &TimeZone) -> (i64, Option<i64>) {
        let today = local_date(now_s, tz);
        let (start, end) = match self {
            Period::Total => return (0, None),
            Period::Daily => (Some(today), today.tomorrow().ok()),
            Period::Weekly => {
                let back = i64::from(today.weekday().to_monday_zero_offset());
                let monday = today.checked_sub(back.days()).ok();
                (monday, monday.and_then(|m| m.checked_add(7.days()).ok()))
            }
            Period::Monthly => {
                let first = today.first_of_month();
                (Some(first), first.checked_add(1.month()).ok())
            }
        };
        // Both fail only at the very ends of jiff's range; fall back to "since forever".
        let start_s = start.and_then(|d| local_midnight(d, tz)).unwrap_or(0);
        (start_s, end.and_then(|d| local_midnight(d, tz)))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A period name that is not one of `daily`, `weekly`, `monthly`, `total`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown period {0:?}: expected daily, weekly, monthly or total")]
pub struct UnknownPeriod(pub String);

impl FromStr for Period {
    type Err = UnknownPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPeriod(s.to_owned()))
    }
}

/// Parses `SPEND_TIME_ZONE`: an IANA name (`Europe/Berlin`) or `UTC`.
///
/// Names are looked up in the system tzdb (`/usr/share/zoneinfo`, or `TZDIR`), falling back to
/// the copy bundled into the binary when the system has none.
pub fn parse_tz(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|e| {
        format!("unknown time zone {name:?} ({e}): use an IANA name such as UTC or Europe/Berlin")
    })
}

/// `at_s` as people read it in `tz`: `2026-12-07 00:00 UTC`, `2026-03-30 00:00 CEST`.
pub fn format_local(at_s: i64, tz: &TimeZone) -> String {
    clamped(at_s)
        .to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn clamped(at_s: i64) -> Timestamp {
    let s = at_s.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn local_date(at_s: i64, tz: &TimeZone) -> Date {
    tz.to_datetime(clamped(at_s)).date()
}

fn local_midnight(date: Date, tz: &TimeZone) -> Option<i64> {
    date.to_zoned_datetime(tz.clone())
        .ok()
        .map(|z| z.timestamp().as_second())
}

#[cfg(test)]
mod tests;
