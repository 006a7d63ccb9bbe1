#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use crate::period::parse_tz;

const USD: i64 = 1_000_000_000; // nano-dollars

/// Unix seconds of a civil time in a zone.
fn at(civil: &str, zone: &str) -> i64 {
    let dt: jiff::civil::DateTime = civil.parse().unwrap();
    parse_tz(zone)
        .unwrap()
        .to_timestamp(dt)
        .unwrap()
        .as_second()
}

fn utc(civil: &str) -> i64 {
    at(civil, "UTC")
}

/// A stand-in for `spend_totals`: recording a request adds its cost to the user's, team's,
/// key's and gateway's total of the window it falls in, for every period — what the store
/// does in the batch's transaction.
struct Ledger {
    tz: TimeZone,
    totals: RefCell<HashMap<(String, Period, i64), i64>>,
}

impl Ledger {
    fn new(zone: &str) -> Self {
        Ledger {
            tz: parse_tz(zone).unwrap(),
            totals: RefCell::default(),
        }
    }

    fn record(&self, at_s: i64, caller: &Caller, nanos: i64) {
        let mut scopes = vec![key_key(&caller.key_id), GATEWAY_KEY.to_owned()];
        scopes.extend(caller.user_id.as_deref().map(user_key));
        scopes.extend(caller.team_id.as_deref().map(team_key));
        let mut totals = self.totals.borrow_mut();
        for scope in scopes {
            for period in Period::ALL {
                let start = period.window(at_s, &self.tz).0;
                *totals.entry((scope.clone(), period, start)).or_default() += nanos;
            }
        }
    }

    fn evaluate(&self, limits: &[Limit], caller: &Caller, now_s: i64) -> Verdict {
        let totals = |scope: &str, period: Period, start: i64| {
            let key = (scope.to_owned(), period, start);
            self.totals.borrow().get(&key).copied().unwrap_or(0)
        };
        evaluate(limits, caller, &totals, now_s, &self.tz)
    }
}

fn member(user: &str, team: Option<(&str, &str)>, key: &str) -> Caller {
    Caller {
        user_id: Some(user.to_owned()),
        team_id: team.map(|t| t.0.to_owned()),
        team_name: team.map(|t| t.1.to_owned()),
        key_id: key.to_owned(),
    }
}

fn limit(id: &str, scope: Scope, period: Period, usd: Option<i64>) -> Limit {
    Limit {
        id: id.to_owned(),
        scope,
        period,
        amount_nanos: usd.map(|d| d * USD),
        enabled: true,
    }
}

fn blocked_by(v: &Verdict) -> Option<&str> {
    v.blocked.as_ref().map(|b| b.limit_id.as_str())
}

const ENG: Option<(&str, &str)> = Some(("t1", "eng"));

#[test]
fn team_pool_covers_every_members_keys() {
    let ledger = Ledger::new("UTC");
    let limits = [limit(
        "spl_team",
        Scope::Team("t1".into()),
        Period::Daily,
        Some(5),
    )];
    let alice = member("alice", ENG, "k_alice");
    let alice_cli = member("alice", ENG, "k_alice_cli");
    let bob = member("bob", ENG, "k_bob");
    let carol = member("carol", ENG, "k_carol");
    let dave = member("dave", Some(("t2", "ops")), "k_dave");

    ledger.record(utc("2026-12-06T10:00"), &alice, 2 * USD);
    ledger.record(utc("2026-12-06T10:01"), &alice_cli, USD);
    let v = ledger.evaluate(&limits, &bob, utc("2026-12-06T10:02"));
    assert_eq!(blocked_by(&v), None);
    assert_eq!(v.tightest.as_ref().unwrap().remaining_nanos, 2 * USD);
    assert_eq!(v.tightest.as_ref().unwrap().scope_key, "team:t1");

    // Bob's $2 fills the pool: every member is refused, whichever key; other teams are not.
    ledger.record(utc("2026-12-06T10:03"), &bob, 2 * USD);
    let now = utc("2026-12-06T10:04");
    for caller in [&alice, &alice_cli, &bob, &carol] {
        let v = ledger.evaluate(&limits, caller, now);
        let block = v.blocked.unwrap();
        assert_eq!(block.limit_id, "spl_team", "{caller:?}");
        assert_eq!(block.period, Period::Daily);
        assert_eq!(block.reset_s, Some(utc("2026-12-07T00:00")));
        assert_eq!(
            block.message,
            "spend limit reached (daily; resets 2026-12-07 00:00 UTC)"
        );
    }
    let v = ledger.evaluate(&limits, &dave, now);
    assert_eq!(v, Verdict::default());
}

/// Per-seat caps: the user's own limit, else the most restrictive of their team's groups, else
/// the organization's; `None` stops the fall-through; compared with the person's own spend.
#[test]
fn per_seat_fallthrough() {
    let mut erin_off = limit(
        "spl_erin",
        Scope::User("erin".into()),
        Period::Daily,
        Some(1),
    );
    erin_off.enabled = false;
    let limits = [
        limit("spl_org", Scope::Organization, Period::Daily, Some(10)),
        limit(
            "spl_eng_name",
            Scope::RbacGroup("eng".into()),
            Period::Daily,
            Some(5),
        ),
        limit(
            "spl_eng_id",
            Scope::RbacGroup("t1".into()),
            Period::Daily,
            Some(7),
        ),
        limit(
            "spl_alice",
            Scope::User("alice".into()),
            Period::Daily,
            Some(20),
        ),
        limit("spl_bob", Scope::User("bob".into()), Period::Daily, None),
        limit(
            "spl_ops",
            Scope::RbacGroup("ops".into()),
            Period::Daily,
            None,
        ),
        limit(
            "spl_qa",
            Scope::RbacGroup("t4".into()),
            Period::Daily,
            Some(3),
        ),
        erin_off,
    ];
    let now = utc("2026-12-06T12:00");
    // (caller, own spend in $ cents, expected deciding limit, blocked)
    let cases = [
        // Her own limit, above the group's and the org's.
        (member("alice", ENG, "ka"), 1_999, Some("spl_alice"), false),
        (member("alice", ENG, "ka"), 2_000, Some("spl_alice"), true),
        // Explicit no cap for bob: neither his groups nor the org apply.
        (member("bob", ENG, "kb"), 100_000, None, false),
        // The most restrictive group cap ($5 by name over $7 by id), reached at exactly $5.
        (member("carol", ENG, "kc"), 499, Some("spl_eng_name"), false),
        (member("carol", ENG, "kc"), 500, Some("spl_eng_name"), true),
        // A group with no cap stops the fall-through to the org.
        (
            member("dan", Some(("t3", "ops")), "kd"),
            100_000,
            None,
            false,
        ),
        // A group matched by id alone.
        (
            member("gus", Some(("t4", "qa")), "kg"),
            300,
            Some("spl_qa"),
            true,
        ),
        // Disabled own limit is ignored; no team: the org's $10.
        (member("erin", None, "ke"), 999, Some("spl_org"), false),
        (member("erin", None, "ke"), 1_000, Some("spl_org"), true),
        // A key without a person: per-seat caps do not apply.
        (
            Caller {
                key_id: "k_service".into(),
                ..Caller::default()
            },
            0,
            None,
            false,
        ),
    ];
    for (caller, cents, want_limit, want_blocked) in cases {
        let ledger = Ledger::new("UTC");
        ledger.record(utc("2026-12-06T09:00"), &caller, cents * USD / 100);
        // Someone else's spend in the same team must not count against a per-seat cap.
        ledger.record(
            utc("2026-12-06T09:00"),
            &member("zed", ENG, "kz"),
            1_000 * USD,
        );
        let v = ledger.evaluate(&limits, &caller, now);
        let name = &caller.user_id;
        assert_eq!(
            v.tightest.as_ref().map(|h| h.limit_id.as_str()),
            want_limit,
            "{name:?}"
        );
        assert_eq!(
            v.blocked.is_some(),
            want_blocked,
            "{name:?} at {cents} cents"
        );
        if let Some(h) = &v.tightest {
            assert_eq!(h.scope_key, format!("user:{}", name.as_deref().unwrap()));
            assert_eq!(h.spent_nanos, cents * USD / 100);
        }
    }
}

/// With an injected clock: blocked until the window ends, allowed at the first second of the
/// next one; reset times and messages in the configured zone.
#[test]
fn resets_on_time() {
    let alice = member("alice", ENG, "ka");
    // (zone, period, spend at, blocked until (exclusive), message)
    let cases = [
        (
            "UTC",
            Period::Daily,
            "2026-12-06T10:00",
            "2026-12-07T00:00",
            "spend limit reached (daily; resets 2026-12-07 00:00 UTC)",
        ),
        (
            "Europe/Berlin",
            Period::Daily,
            "2026-12-06T10:00",
            "2026-12-07T00:00",
            "spend limit reached (daily; resets 2026-12-07 00:00 CET)",
        ),
        (
            "UTC",
            Period::Weekly,
            "2026-12-06T10:00", // a Sunday
            "2026-12-07T00:00",
            "spend limit reached (weekly; resets 2026-12-07 00:00 UTC)",
        ),
        (
            "Europe/Berlin",
            Period::Monthly,
            "2026-03-15T10:00", // the month has a DST change; the reset is in summer time
            "2026-04-01T00:00",
            "spend limit reached (monthly; resets 2026-04-01 00:00 CEST)",
        ),
    ];
    for (zone, period, spent_at, until, message) in cases {
        let ledger = Ledger::new(zone);
        let limits = [limit("spl_a", Scope::User("alice".into()), period, Some(1))];
        ledger.record(at(spent_at, zone), &alice, USD);
        let reset = at(until, zone);
        for now in [at(spent_at, zone) + 1, reset - 1] {
            let block = ledger.evaluate(&limits, &alice, now).blocked.unwrap();
            assert_eq!(block.reset_s, Some(reset), "{zone} {period}");
            assert_eq!(block.message, message);
        }
        let v = ledger.evaluate(&limits, &alice, reset);
        assert_eq!(v.blocked, None, "{zone} {period} at reset");
        assert_eq!(v.tightest.unwrap().remaining_nanos, USD);
    }
    // `total` never resets.
    let ledger = Ledger::new("UTC");
    let limits = [limit(
        "spl_t",
        Scope::Key("ka".into()),
        Period::Total,
        Some(1),
    )];
    ledger.record(utc("2020-01-01T00:00"), &alice, USD);
    let block = ledger
        .evaluate(&limits, &alice, utc("2030-01-01T00:00"))
        .blocked
        .unwrap();
    assert_eq!(block.reset_s, None);
    assert_eq!(block.message, "spend limit reached (total; does not reset)");
}

#[test]
fn disabled_limits_are_ignored_and_zero_blocks() {
    let ledger = Ledger::new("UTC");
    let alice = member("alice", ENG, "ka");
    let now = utc("2026-12-06T12:00");
    let mut off = limit("spl_off", Scope::Key("ka".into()), Period::Daily, Some(0));
    off.enabled = false;
    let mut org_off = limit("spl_org_off", Scope::Organization, Period::Daily, Some(0));
    org_off.enabled = false;
    assert_eq!(
        ledger.evaluate(&[off.clone(), org_off], &alice, now),
        Verdict::default()
    );
    off.enabled = true;
    let v = ledger.evaluate(&[off], &alice, now);
    assert_eq!(blocked_by(&v), Some("spl_off"));
    assert_eq!(v.tightest.unwrap().utilization, 1.0);
}

/// Of several reached caps the block names the one that resets last; `tightest` has the least
/// left, `fullest` the highest utilization.
#[test]
fn several_caps() {
    let ledger = Ledger::new("UTC");
    let alice = member("alice", ENG, "ka");
    ledger.record(utc("2026-12-06T09:00"), &alice, 10 * USD);
    let limits = [
        limit(
            "spl_day",
            Scope::User("alice".into()),
            Period::Daily,
            Some(10),
        ),
        limit(
            "spl_month",
            Scope::User("alice".into()),
            Period::Monthly,
            Some(10),
        ),
        limit("spl_key", Scope::Key("ka".into()), Period::Weekly, Some(12)),
        limit("spl_gw", Scope::Gateway, Period::Monthly, Some(1_000)),
    ];
    let v = ledger.evaluate(&limits, &alice, utc("2026-12-06T12:00"));
    let block = v.blocked.unwrap();
    assert_eq!(block.limit_id, "spl_month");
    assert_eq!(block.reset_s, Some(utc("2027-01-01T00:00")));
    assert_eq!(v.caps.len(), 4);

    let limits = [
        limit("spl_key", Scope::Key("ka".into()), Period::Weekly, Some(12)), // $2 left, 83%
        limit("spl_gw", Scope::Gateway, Period::Monthly, Some(11)),          // $1 left, 91%
        limit(
            "spl_team",
            Scope::Team("t1".into()),
            Period::Monthly,
            Some(1_000),
        ),
    ];
    let v = ledger.evaluate(&limits, &alice, utc("2026-12-06T12:00"));
    assert_eq!(v.blocked, None);
    assert_eq!(v.tightest.unwrap().limit_id, "spl_gw");
    assert_eq!(v.fullest.as_ref().unwrap().limit_id, "spl_gw");
    let limits = [
        limit("spl_key", Scope::Key("ka".into()), Period::Weekly, Some(40)), // $30 left, 25%
        limit("spl_gw", Scope::Gateway, Period::Monthly, Some(100)),         // $90 left, 10%
        limit(
            "spl_day",
            Scope::User("alice".into()),
            Period::Daily,
            Some(12),
        ), // $2 left, 83%
        limit(
            "spl_wk",
            Scope::User("alice".into()),
            Period::Weekly,
            Some(11),
        ), // $1 left, 91%
    ];
    let v = ledger.evaluate(&limits, &alice, utc("2026-12-06T12:00"));
    assert_eq!(v.tightest.unwrap().limit_id, "spl_wk");
}

/// Least money left and highest utilization can be different caps: the header shows the
/// first, Claude Code's warnings follow the second.
#[test]
fn fullest_differs_from_tightest() {
    let ledger = Ledger::new("UTC");
    let alice = member("alice", ENG, "ka");
    ledger.record(utc("2026-12-01T09:00"), &alice, 900 * USD);
    ledger.record(utc("2026-12-06T09:00"), &alice, 5 * USD);
    let limits = [
        limit(
            "spl_month",
            Scope::User("alice".into()),
            Period::Monthly,
            Some(1_000),
        ), // $95 left, 90.5%
        limit(
            "spl_day",
            Scope::User("alice".into()),
            Period::Daily,
            Some(10),
        ), // $5 left, 50%
    ];
    let v = ledger.evaluate(&limits, &alice, utc("2026-12-06T12:00"));
    let tightest = v.tightest.unwrap();
    let fullest = v.fullest.unwrap();
    assert_eq!(
        (tightest.limit_id.as_str(), tightest.remaining_nanos),
        ("spl_day", 5 * USD)
    );
    assert_eq!(tightest.utilization, 0.5);
    assert_eq!(
        (fullest.limit_id.as_str(), fullest.remaining_nanos),
        ("spl_month", 95 * USD)
    );
    assert_eq!(fullest.utilization, 0.905);
    assert_eq!(fullest.reset_s, Some(utc("2027-01-01T00:00")));
}

#[test]
fn crossed_thresholds() {
    let t = [50, 75, 95, 100];
    // (before, after, cap, expected) in dollars.
    let cases: &[(i64, i64, i64, &[u8])] = &[
        (0, 49, 100, &[]),
        (0, 50, 100, &[50]),
        (49, 76, 100, &[50, 75]),
        (50, 60, 100, &[]), // 50% was reached before: not again
        (0, 100, 100, &[50, 75, 95, 100]),
        (94, 200, 100, &[95, 100]),
        (100, 150, 100, &[]),
        (60, 40, 100, &[]), // spend going down (a correction) crosses nothing
        (0, 5, 0, &[]),     // a cap of 0 is reached before any spend
        (0, 3, 4, &[50, 75]),
    ];
    for &(before, after, cap, want) in cases {
        assert_eq!(
            crossed(before * USD, after * USD, cap * USD, &t),
            want,
            "{before}→{after} of {cap}"
        );
    }
    // Exact at the nano-dollar: 75% of $0.000000004 is 3 nanos.
    assert_eq!(crossed(2, 3, 4, &t), vec![75]);
}
