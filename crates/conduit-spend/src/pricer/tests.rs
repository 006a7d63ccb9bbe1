#![allow(clippy::unwrap_used)]

use super::*;
use crate::cost::usd;
use crate::price::PriceEntry;

/// Before and at 2026-10-07T00:00:00Z.
const OCT_6_LAST_SECOND: i64 = 1_791_331_199;
const OCT_7: i64 = 1_791_331_200;
const NOW: i64 = 1_796_515_200; // 2026-12-06

fn counters(input: u64, w5: u64, w1h: u64, read: u64, output: u64) -> Counters {
    Counters {
        input,
        cache_write_5m: w5,
        cache_write_1h: w1h,
        cache_read: read,
        output,
    }
}

/// Rates with only an input price, in dollars per MTok: 1M input tokens cost `d` dollars.
fn input_only(dollars: i64) -> Rates {
    Rates {
        input: dollars * 1_000_000,
        output: 0,
        cache_read: 0,
        write_5m: 0,
        write_1h: 0,
    }
}

struct Case {
    name: &'static str,
    upstream: &'static str,
    model: &'static str,
    at: i64,
    counters: Counters,
    credits: Option<f64>,
    kiro: bool,
    want_nanos: Option<i64>,
    want_by: Option<&'static str>,
}

fn case(name: &'static str, model: &'static str, counters: Counters) -> Case {
    Case {
        name,
        upstream: "anthropic",
        model,
        at: NOW,
        counters,
        credits: None,
        kiro: false,
        want_nanos: None,
        want_by: None,
    }
}

impl Case {
    fn want(mut self, nanos: i64, by: &'static str) -> Self {
        self.want_nanos = Some(nanos);
        self.want_by = Some(by);
        self
    }
    fn at(mut self, at: i64) -> Self {
        self.at = at;
        self
    }
    fn on(mut self, upstream: &'static str) -> Self {
        self.upstream = upstream;
        self
    }
    fn kiro(mut self, credits: Option<f64>) -> Self {
        self.upstream = "kiro";
        self.kiro = true;
        self.credits = credits;
        self
    }
}

fn check(pricer: &Pricer, cases: Vec<Case>) {
    for c in cases {
        let got = pricer.price(c.upstream, c.model, c.at, &c.counters, c.credits, c.kiro);
        assert_eq!(got.cost_nanos, c.want_nanos, "{}: cost", c.name);
        assert_eq!(got.priced_by.as_deref(), c.want_by, "{}: priced_by", c.name);
    }
}

#[test]
fn list_prices() {
    let m = 1_000_000; // one million tokens
    check(
        &Pricer::list(),
        vec![
            // LiteLLM #9812: input 3, cache_creation 12304 (all 5m), read 0, output 550 on
            // Claude 3.7 Sonnet. Console: $0.05439; LiteLLM charged the writes twice ($0.091311).
            case(
                "litellm-9812",
                "claude-3-7-sonnet-20250219",
                counters(3, 12_304, 0, 0, 550),
            )
            .want(54_399_000, "list:claude-3-7-sonnet"),
            // LiteLLM #11789: 2455 cache reads billed at the read rate ($0.08/MTok on Claude 3.5
            // Haiku), not the input rate. With 3 input and 23 output tokens this is the issue's
            // ~$0.000292; at the input rate it would be its wrong $0.002059 (2_058_400 nanos).
            case(
                "litellm-11789",
                "claude-3-5-haiku-20241022",
                counters(3, 0, 0, 2_455, 23),
            )
            .want(290_800, "list:claude-3-5-haiku"),
            // Each cache-write TTL at its own rate: $3.75 vs $6 per MTok on Sonnet 4.5.
            case("write-5m", "claude-sonnet-4-5", counters(0, m, 0, 0, 0))
                .want(3_750_000_000, "list:claude-sonnet-4"),
            case("write-1h", "claude-sonnet-4-5", counters(0, 0, m, 0, 0))
                .want(6_000_000_000, "list:claude-sonnet-4"),
            case("write-both", "claude-sonnet-4-5", counters(0, m, m, 0, 0))
                .want(9_750_000_000, "list:claude-sonnet-4"),
            // Sonnet 5.5's read rate: $0.20 until 2026-10-07, $0.10 from then.
            case(
                "sonnet-5-5-read-before",
                "claude-sonnet-5-5",
                counters(0, 0, 0, m, 0),
            )
            .at(OCT_6_LAST_SECOND)
            .want(200_000_000, "list:claude-sonnet-5-5"),
            case(
                "sonnet-5-5-read-after",
                "claude-sonnet-5-5",
                counters(0, 0, 0, m, 0),
            )
            .at(OCT_7)
            .want(100_000_000, "list:claude-sonnet-5-5@2026-10-07"),
            // Haiku 5.5: a prompt of exactly 100K takes the low band; 100K+1 puts every token
            // of the request, output included, in the high band.
            case(
                "haiku-5-5-at-100k",
                "claude-haiku-5-5",
                counters(60_000, 6_000, 4_000, 30_000, 1_000),
            )
            .want(8_350_000, "list:claude-haiku-5-5"),
            case(
                "haiku-5-5-over-100k",
                "claude-haiku-5-5",
                counters(60_001, 6_000, 4_000, 30_000, 1_000),
            )
            .want(41_750_500, "list:claude-haiku-5-5"),
            // Read ratios that are not 0.1×: Opus 5.5 ($0.20) and Fable 5.1 ($0.25).
            case("opus-5-5-read", "claude-opus-5-5", counters(0, 0, 0, m, 0))
                .want(200_000_000, "list:claude-opus-5-5"),
            case(
                "fable-5-1-read",
                "claude-fable-5-1",
                counters(0, 0, 0, m, 0),
            )
            .want(250_000_000, "list:claude-fable-5-1"),
            // Ids from every upstream resolve to the same row.
            case(
                "bedrock",
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                counters(m, 0, 0, 0, 0),
            )
            .on("bedrock")
            .want(3_000_000_000, "list:claude-sonnet-4"),
            case(
                "vertex",
                "claude-opus-4-1@20250805",
                counters(m, 0, 0, 0, 0),
            )
            .want(15_000_000_000, "list:claude-opus-4-1"),
            case("opus-4-0-alias", "claude-opus-4-0", counters(m, 0, 0, 0, 0))
                .want(15_000_000_000, "list:claude-opus-4"),
            case(
                "opus-4-5-longest-prefix",
                "claude-opus-4-5-20251101",
                counters(m, 0, 0, 0, 0),
            )
            .want(5_000_000_000, "list:claude-opus-4-5"),
            case(
                "claude-3-haiku-write",
                "anthropic.claude-3-haiku-20240307-v1:0",
                counters(0, m, 0, 0, 0),
            )
            .want(300_000_000, "list:claude-3-haiku"),
            // Unknown models: no cost, never a default (the caller warns).
            case(
                "opus-4-9-unpriced",
                "claude-opus-4-9",
                counters(m, 0, 0, 0, 0),
            ),
            case(
                "fable-5-unpriced",
                "claude-fable-5",
                counters(m, 0, 0, 0, 0),
            ),
            case("not-claude", "gpt-5", counters(m, 0, 0, 0, 0)),
            case("empty", "", counters(m, 0, 0, 0, 0)),
        ],
    );
}

#[test]
fn kiro_by_credits() {
    let tokens = counters(1_000, 0, 0, 0, 1_000);
    check(
        &Pricer::list(),
        vec![
            // 1.25 credits × $0.04.
            case("credits", "claude-sonnet-4.5", tokens)
                .kiro(Some(1.25))
                .want(50_000_000, "kiro-credit"),
            case("credits-unknown-model", "deepseek-3.2", tokens)
                .kiro(Some(0.01))
                .want(400_000, "kiro-credit"),
            case("zero-credits", "claude-sonnet-4.5", tokens)
                .kiro(Some(0.0))
                .want(0, "kiro-credit"),
            // No credits: the tokens' list price, flagged as an estimate.
            case("no-credits", "claude-sonnet-4.5", tokens)
                .kiro(None)
                .want(18_000_000, "kiro-list-estimate"),
            case("nan-credits", "claude-sonnet-4.5", tokens)
                .kiro(Some(f64::NAN))
                .want(18_000_000, "kiro-list-estimate"),
            case("no-credits-unknown", "deepseek-3.2", tokens).kiro(None),
            // Absurd counts saturate instead of overflowing.
            case("huge-credits", "claude-sonnet-4.5", tokens)
                .kiro(Some(1e30))
                .want(i64::MAX, "kiro-credit"),
            // Credits on a non-Kiro row are ignored.
            Case {
                credits: Some(9.0),
                ..case("not-kiro", "claude-sonnet-4-5", tokens)
            }
            .want(18_000_000, "list:claude-sonnet-4"),
        ],
    );
    let cheaper = Pricer::list().with_kiro_credit_micros(20_000);
    check(
        &cheaper,
        vec![case("override-credit", "claude-sonnet-4.5", tokens)
            .kiro(Some(1.25))
            .want(25_000_000, "kiro-credit")],
    );
}

#[test]
fn overrides_most_specific_wins() {
    let ov = |upstream: Option<&str>, prefix: &str, dollars| Override {
        upstream: upstream.map(str::to_owned),
        model_prefix: prefix.to_owned(),
        rates: input_only(dollars),
    };
    let pricer = Pricer::list().with_overrides(vec![
        ov(None, "claude-sonnet-4", 1),
        ov(Some("bedrock"), "claude-sonnet-4", 2),
        ov(Some("bedrock"), "claude-sonnet-4-5", 4),
        ov(None, "claude-opus-4.7", 7),
    ]);
    let m = counters(1_000_000, 0, 0, 0, 0);
    check(
        &pricer,
        vec![
            // Exact upstream, longest prefix.
            case(
                "bedrock-4-5",
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                m,
            )
            .on("bedrock")
            .want(4_000_000_000, "override:bedrock/claude-sonnet-4-5"),
            // Exact upstream beats any upstream with the same prefix.
            case("bedrock-4-6", "claude-sonnet-4-6", m)
                .on("bedrock")
                .want(2_000_000_000, "override:bedrock/claude-sonnet-4"),
            // Another upstream: the any-upstream override.
            case("anthropic-4-5", "claude-sonnet-4-5", m)
                .want(1_000_000_000, "override:*/claude-sonnet-4"),
            // An override beats the list (prefix normalised: 4.7 → 4-7).
            case("opus-4-7", "global.anthropic.claude-opus-4-7", m)
                .on("bedrock")
                .want(7_000_000_000, "override:*/claude-opus-4.7"),
            // No override: the list.
            case("list", "claude-opus-4-5", m)
                .on("bedrock")
                .want(5_000_000_000, "list:claude-opus-4-5"),
            // Kiro without credits honours an override for its model.
            case("kiro-no-credits", "claude-sonnet-4.5", m)
                .kiro(None)
                .want(1_000_000_000, "override:*/claude-sonnet-4"),
        ],
    );
    // An exact-upstream override wins even when an any-upstream one has a longer prefix.
    let pricer = Pricer::list().with_overrides(vec![
        ov(None, "claude-sonnet-4-5", 1),
        ov(Some("bedrock"), "claude", 2),
    ]);
    check(
        &pricer,
        vec![case("upstream-first", "claude-sonnet-4-5", m)
            .on("bedrock")
            .want(2_000_000_000, "override:bedrock/claude")],
    );
}

#[test]
fn effective_dates() {
    let entry = |from, dollars| PriceEntry {
        model: "claude-test-1".to_owned(),
        minor_versions: false,
        effective_from: from,
        rates: input_only(dollars),
        band: None,
        source: "test".to_owned(),
    };
    let pricer = Pricer::new(PriceTable::new(vec![
        entry(1_000, 1),
        entry(3_000, 3),
        entry(2_000, 2),
    ]));
    let m = counters(1_000_000, 0, 0, 0, 0);
    check(
        &pricer,
        vec![
            // Not yet in force: unknown, not the next row.
            case("before-any", "claude-test-1", m).at(999),
            case("first", "claude-test-1", m)
                .at(1_000)
                .want(1_000_000_000, "list:claude-test-1@1970-01-01"),
            case("second", "claude-test-1", m)
                .at(2_999)
                .want(2_000_000_000, "list:claude-test-1@1970-01-01"),
            case("latest", "claude-test-1", m)
                .at(NOW)
                .want(3_000_000_000, "list:claude-test-1@1970-01-01"),
        ],
    );
}

/// Guards the hand-typed list against typos without deriving it: output is 5× input
/// everywhere, and writes/reads follow the classic 1.25× / 2× / 0.1× except where the spec
/// says they do not.
#[test]
fn list_rates_are_consistent() {
    // (key, effective_from, read as a fraction of input: (numerator, denominator))
    let read_exceptions = [
        ("claude-opus-5-5", 0, (1, 20)),
        ("claude-fable-5-1", 0, (1, 40)),
        ("claude-sonnet-5-5", OCT_7, (1, 20)),
    ];
    for e in PriceTable::list().entries() {
        let bands = std::iter::once(e.rates).chain(e.band.map(|b| b.rates));
        for r in bands {
            let name = e.label();
            assert_eq!(r.output, 5 * r.input, "{name}: output");
            if e.model == "claude-3-haiku" {
                // Claude 3 Haiku writes at $0.30, not 1.25 × $0.25.
                assert_eq!(
                    (r.write_5m, r.write_1h, r.cache_read),
                    (300_000, 500_000, 30_000)
                );
                continue;
            }
            assert_eq!(4 * r.write_5m, 5 * r.input, "{name}: write 5m");
            assert_eq!(r.write_1h, 2 * r.input, "{name}: write 1h");
            let (num, den) = read_exceptions
                .iter()
                .find(|(k, from, _)| *k == e.model && *from == e.effective_from)
                .map_or((1, 10), |x| x.2);
            assert_eq!(r.cache_read * den, r.input * num, "{name}: read");
        }
        assert!(!e.source.is_empty());
    }
}

#[test]
fn usd_strings() {
    let cases = [
        (0, "0.000000"),
        (54_399_000, "0.054399"),
        (290_800, "0.000291"),
        (1_500, "0.000002"),
        (1_499, "0.000001"),
        (-2_500, "-0.000003"),
        (12_345_678_901_234, "12345.678901"),
        (i64::MAX, "9223372036.854776"),
    ];
    for (nanos, want) in cases {
        assert_eq!(usd(nanos), want, "{nanos}");
    }
}

#[test]
fn cost_is_exact_and_saturates() {
    let sonnet = PriceTable::list()
        .lookup("claude-sonnet-4-5", NOW)
        .unwrap()
        .rates;
    // One token of each kind: 3 + 3.75 + 6 + 0.30 + 15 micro-dollars per MTok → pico → nanos.
    assert_eq!(cost_nanos(&counters(1, 1, 1, 1, 1), &sonnet), 28_050);
    // A rate finer than $0.001/MTok rounds half away from zero.
    let odd = Rates {
        input: 1,
        ..input_only(0)
    };
    assert_eq!(cost_nanos(&counters(499, 0, 0, 0, 0), &odd), 0);
    assert_eq!(cost_nanos(&counters(500, 0, 0, 0, 0), &odd), 1);
    let huge = counters(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    assert_eq!(cost_nanos(&huge, &sonnet), i64::MAX);
}
