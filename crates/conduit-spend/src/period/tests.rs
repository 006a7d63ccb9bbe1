#![allow(clippy::unwrap_used)]

use super::*;

/// `(start_s, end_s)` as [`Period::window`] returns it.
type Window = (i64, Option<i64>);

/// Unix seconds of a civil time in a zone, e.g. `at("2026-12-06T15:00", "UTC")`.
fn at(civil: &str, zone: &str) -> i64 {
    let dt: jiff::civil::DateTime = civil.parse().unwrap();
    parse_tz(zone)
        .unwrap()
        .to_timestamp(dt)
        .unwrap()
        .as_second()
}

/// `(period, zone, now, expected start, expected end)`, all civil times in `zone`.
#[test]
fn windows() {
    let cases: &[(Period, &str, &str, &str, &str)] = &[
        // Daily in UTC, at and just before midnight.
        (
            Period::Daily,
            "UTC",
            "2026-12-06T15:00",
            "2026-12-06T00:00",
            "2026-12-07T00:00",
        ),
        (
            Period::Daily,
            "UTC",
            "2026-12-06T00:00",
            "2026-12-06T00:00",
            "2026-12-07T00:00",
        ),
        (
            Period::Daily,
            "UTC",
            "2026-12-06T23:59:59",
            "2026-12-06T00:00",
            "2026-12-07T00:00",
        ),
        // Month boundaries, a leap-less February and the year's end.
        (
            Period::Monthly,
            "UTC",
            "2026-01-31T23:59:59",
            "2026-01-01T00:00",
            "2026-02-01T00:00",
        ),
        (
            Period::Monthly,
            "UTC",
            "2026-02-01T00:00",
            "2026-02-01T00:00",
            "2026-03-01T00:00",
        ),
        (
            Period::Monthly,
            "UTC",
            "2026-12-31T23:59:59",
            "2026-12-01T00:00",
            "2027-01-01T00:00",
        ),
        (
            Period::Monthly,
            "UTC",
            "2028-02-29T12:00",
            "2028-02-01T00:00",
            "2028-03-01T00:00",
        ),
        // Weeks start Monday: Sunday night is still last week, Monday 00:00 is the new one.
        (
            Period::Weekly,
            "UTC",
            "2026-12-13T23:59:59",
            "2026-12-07T00:00",
            "2026-12-14T00:00",
        ),
        (
            Period::Weekly,
            "UTC",
            "2026-12-14T00:00",
            "2026-12-14T00:00",
            "2026-12-21T00:00",
        ),
        (
            Period::Weekly,
            "UTC",
            "2026-12-07T00:00",
            "2026-12-07T00:00",
            "2026-12-14T00:00",
        ),
        // A week spanning a month and year end.
        (
            Period::Weekly,
            "UTC",
            "2027-01-01T09:00",
            "2026-12-28T00:00",
            "2027-01-04T00:00",
        ),
        // Europe/Berlin: local midnights, across both DST changes of 2026.
        (
            Period::Daily,
            "Europe/Berlin",
            "2026-03-29T12:00",
            "2026-03-29T00:00",
            "2026-03-30T00:00",
        ),
        (
            Period::Daily,
            "Europe/Berlin",
            "2026-10-25T12:00",
            "2026-10-25T00:00",
            "2026-10-26T00:00",
        ),
        (
            Period::Weekly,
            "Europe/Berlin",
            "2026-03-29T23:30",
            "2026-03-23T00:00",
            "2026-03-30T00:00",
        ),
        (
            Period::Monthly,
            "Europe/Berlin",
            "2026-03-31T23:30",
            "2026-03-01T00:00",
            "2026-04-01T00:00",
        ),
        // Berlin's day begins before UTC's: 23:30 UTC on the 6th is already the 7th there.
        (
            Period::Daily,
            "Europe/Berlin",
            "2026-12-07T00:30",
            "2026-12-07T00:00",
            "2026-12-08T00:00",
        ),
        // São Paulo skipped midnight on 2015-10-18: the day starts at 01:00 (jiff resolves the
        // gap forward), the next at midnight.
        (
            Period::Daily,
            "America/Sao_Paulo",
            "2015-10-18T12:00",
            "2015-10-18T01:00",
            "2015-10-19T00:00",
        ),
    ];
    for &(period, zone, now, start, end) in cases {
        let tz = parse_tz(zone).unwrap();
        let got = period.window(at(now, zone), &tz);
        let want = (at(start, zone), Some(at(end, zone)));
        assert_eq!(got, want, "{period} {zone} at {now}");
    }
}

/// The same windows as raw Unix seconds (computed independently with Python's zoneinfo), so a
/// wrong zone lookup cannot hide behind the test helper. Berlin's DST days are 23 h and 25 h.
#[test]
fn windows_as_unix_seconds() {
    let berlin = parse_tz("Europe/Berlin").unwrap();
    let cases: &[(Period, &TimeZone, i64, Window)] = &[
        (
            Period::Daily,
            &TimeZone::UTC,
            1_796_569_200,
            (1_796_515_200, Some(1_796_601_600)),
        ),
        (
            Period::Monthly,
            &TimeZone::UTC,
            1_769_903_999,
            (1_767_225_600, Some(1_769_904_000)),
        ),
        (
            Period::Daily,
            &berlin,
            1_774_778_400,
            (1_774_738_800, Some(1_774_821_600)),
        ),
        (
            Period::Daily,
            &berlin,
            1_792_926_000,
            (1_792_879_200, Some(1_792_969_200)),
        ),
        (Period::Total, &berlin, 1_792_926_000, (0, None)),
    ];
    for &(period, tz, now, want) in cases {
        assert_eq!(period.window(now, tz), want, "{period} at {now}");
    }
    let day = |now| {
        let (s, e) = Period::Daily.window(now, &berlin);
        e.unwrap() - s
    };
    assert_eq!(day(1_774_778_400), 23 * 3600);
    assert_eq!(day(1_792_926_000), 25 * 3600);
}

/// Every hour of 2026 in Berlin: the window contains the instant, its start maps to the same
/// window, and its end starts the next one (no gaps, no overlaps).
#[test]
fn windows_tile_the_year() {
    let berlin = parse_tz("Europe/Berlin").unwrap();
    let from = at("2026-01-01T00:00", "UTC");
    let to = at("2027-01-01T00:00", "UTC");
    for period in [Period::Daily, Period::Weekly, Period::Monthly] {
        for now in (from..to).step_by(3600) {
            let (start, end) = period.window(now, &berlin);
            let end = end.unwrap();
            assert!(
                start <= now && now < end,
                "{period} at {now}: {start}..{end}"
            );
            assert_eq!(period.window(start, &berlin), (start, Some(end)));
            assert_eq!(period.window(end, &berlin).0, end, "{period} at {now}");
        }
    }
}

#[test]
fn names_round_trip() {
    for (period, name) in [
        (Period::Daily, "daily"),
        (Period::Weekly, "weekly"),
        (Period::Monthly, "monthly"),
        (Period::Total, "total"),
    ] {
        assert_eq!(period.to_string(), name);
        assert_eq!(name.parse::<Period>().unwrap(), period);
        assert_eq!(
            serde_json::to_string(&period).unwrap(),
            format!("\"{name}\"")
        );
        let back: Period = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(back, period);
    }
    assert_eq!(
        "Daily".parse::<Period>().unwrap_err().to_string(),
        "unknown period \"Daily\": expected daily, weekly, monthly or total"
    );
    assert!(serde_json::from_str::<Period>("\"hourly\"").is_err());
}

#[test]
fn time_zone_names() {
    for name in [
        "UTC",
        "utc",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
    ] {
        assert!(parse_tz(name).is_ok(), "{name}");
    }
    for name in ["", "Mars/Olympus", "CEST+2"] {
        let err = parse_tz(name).unwrap_err();
        assert!(err.contains("use an IANA name"), "{name}: {err}");
    }
}

#[test]
fn local_formatting() {
    let berlin = parse_tz("Europe/Berlin").unwrap();
    let cases: &[(i64, &TimeZone, &str)] = &[
        (1_796_601_600, &TimeZone::UTC, "2026-12-07 00:00 UTC"),
        (1_774_821_600, &berlin, "2026-03-30 00:00 CEST"),
        (
            at("2026-12-07T00:00", "Europe/Berlin"),
            &berlin,
            "2026-12-07 00:00 CET",
        ),
    ];
    for &(s, tz, want) in cases {
        assert_eq!(format_local(s, tz), want);
    }
}
