#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::text::{escape_help, escape_label, Text};
use super::*;

/// A registry of a test's own (leaked: a [`StreamGauge`] holds a `'static` reference).
fn registry(cap: usize) -> &'static Registry {
    Box::leak(Box::new(Registry::with_cap(cap)))
}

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Parsed {
    /// name → (type, help), in order of appearance.
    families: BTreeMap<String, (String, String)>,
    samples: Vec<Sample>,
}

impl Parsed {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .map(|s| s.value)
    }

    fn of(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// A strict reader of the text format 0.0.4: every sample must belong to a family whose HELP
/// and TYPE lines came before it (histograms: `_bucket`, `_sum`, `_count`), label values are
/// unescaped, numbers parse.
fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut help: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, h) = rest.split_once(' ').expect("HELP name text");
            assert!(
                help.insert(name.into(), h.into()).is_none(),
                "HELP twice: {name}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name type");
            let h = help
                .get(name)
                .unwrap_or_else(|| panic!("TYPE before HELP: {name}"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            let old = p.families.insert(name.into(), (kind.into(), h.clone()));
            assert!(old.is_none(), "TYPE twice: {name}");
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let sample = parse_sample(line);
        let family = [
            ("_bucket", true),
            ("_sum", true),
            ("_count", true),
            ("", false),
        ]
        .iter()
        .find_map(|(suffix, histogram)| {
            let base = sample.name.strip_suffix(suffix)?;
            let (kind, _) = p.families.get(base)?;
            (*histogram == (kind == "histogram")).then_some(base)
        });
        assert!(family.is_some(), "sample of no declared family: {line}");
        p.samples.push(sample);
    }
    p
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("a name");
    let name = &line[..name_end];
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
        "{name}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut s) = rest.strip_prefix('{') {
        loop {
            let eq = s
                .find("=\"")
                .unwrap_or_else(|| panic!("label=\" in {line}"));
            let key = s[..eq].to_string();
            let (value, after) = unquote(&s[eq + 2..], line);
            assert!(labels.insert(key, value).is_none(), "label twice: {line}");
            match after.split_at(1) {
                (",", more) => s = more,
                ("}", more) => {
                    rest = more;
                    break;
                }
                (c, _) => panic!("unexpected {c:?} in {line}"),
            }
        }
    }
    let value = rest.strip_prefix(' ').expect("a space before the value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("number: {line}")),
    };
    Sample {
        name: name.into(),
        labels,
        value,
    }
}

/// A quoted label value (after its opening quote): the unescaped value and the text after the
/// closing quote.
fn unquote<'a>(s: &'a str, line: &str) -> (String, &'a str) {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next().expect("an escape").1 {
                'n' => value.push('\n'),
                c @ ('\\' | '"') => value.push(c),
                c => panic!("bad escape \\{c} in {line}"),
            },
            '"' => return (value, &s[i + 1..]),
            c => value.push(c),
        }
    }
    panic!("no closing quote in {line}")
}

const FAMILIES: [(&str, &str); 11] = [
    ("conduit_requests_total", "counter"),
    ("conduit_request_duration_seconds", "histogram"),
    ("conduit_time_to_first_token_seconds", "histogram"),
    ("conduit_upstream_errors_total", "counter"),
    ("conduit_tokens_total", "counter"),
    ("conduit_cost_usd_total", "counter"),
    ("conduit_open_streams", "gauge"),
    ("conduit_refusals_total", "counter"),
    ("conduit_ledger_rows_written_total", "counter"),
    ("conduit_ledger_rows_pending", "gauge"),
    ("conduit_ledger_flush_errors_total", "counter"),
];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn every_family_has_help_and_type_even_before_anything_is_recorded() {
    let expected: BTreeMap<&str, &str> = FAMILIES.into_iter().collect();
    for recorded in [false, true] {
        let r = registry(MAX_SERIES);
        if recorded {
            r.request(
                "/v1/messages",
                "kiro",
                "claude-sonnet-4-6",
                200,
                ms(1200),
                Some(ms(300)),
            );
            r.upstream_error("kiro", "overloaded");
            r.tokens("kiro", "claude-sonnet-4-6", &[("input", 10), ("output", 5)]);
            r.cost("kiro", "claude-sonnet-4-6", 42_000);
            r.refused("budget");
        }
        let p = parse(&r.render());
        let got: BTreeMap<&str, &str> = p
            .families
            .iter()
            .map(|(n, (t, _))| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(got, expected, "recorded: {recorded}");
        for (name, (_, help)) in &p.families {
            assert!(
                name.starts_with("conduit_") && help.len() > 10,
                "{name}: {help:?}"
            );
            let counter = p.families[name].0 == "counter";
            assert_eq!(name.ends_with("_total"), counter, "{name}");
        }
    }
}

#[test]
fn a_request_counts_once_with_its_labels() {
    let r = registry(MAX_SERIES);
    for _ in 0..3 {
        r.request(
            "/v1/messages",
            "bedrock",
            "claude-opus-4-1",
            200,
            ms(10),
            None,
        );
    }
    r.request(
        "/v1/messages",
        "bedrock",
        "claude-opus-4-1",
        429,
        ms(10),
        None,
    );
    r.request("/v1/chat/completions", "", "", 0, ms(10), None);
    let p = parse(&r.render());
    let labels = |status| {
        [
            ("path", "/v1/messages"),
            ("upstream", "bedrock"),
            ("model", "claude-opus-4-1"),
            ("status", status),
        ]
    };
    assert_eq!(p.get("conduit_requests_total", &labels("200")), Some(3.0));
    assert_eq!(p.get("conduit_requests_total", &labels("429")), Some(1.0));
    // No status: the client left (499, as in the access log); no upstream or model: "none".
    let gone = [
        ("path", "/v1/chat/completions"),
        ("upstream", "none"),
        ("model", "none"),
        ("status", "499"),
    ];
    assert_eq!(p.get("conduit_requests_total", &gone), Some(1.0));
    assert_eq!(p.of("conduit_requests_total").len(), 3);
}

#[test]
fn histograms_have_cumulative_buckets_inf_sum_and_count() {
    let r = registry(MAX_SERIES);
    // 0.01 s, 0.3 s, 3 s and 1000 s (past the last bucket); first tokens after 0.2 s and 4 s.
    for (total, ttft) in [
        (10, Some(200)),
        (300, None),
        (3_000, Some(4_000)),
        (1_000_000, None),
    ] {
        r.request("/v1/messages", "kiro", "m", 200, ms(total), ttft.map(ms));
    }
    let p = parse(&r.render());
    let lbl = [("path", "/v1/messages"), ("upstream", "kiro")];
    for (name, bounds, expected_count, expected_sum) in [
        (
            "conduit_request_duration_seconds",
            &REQUEST_BUCKETS[..],
            4.0,
            1003.31,
        ),
        (
            "conduit_time_to_first_token_seconds",
            &TTFT_BUCKETS[..],
            2.0,
            4.2,
        ),
    ] {
        let buckets: Vec<&Sample> = p.of(&format!("{name}_bucket"));
        assert_eq!(buckets.len(), bounds.len() + 1, "{name}");
        let mut last = 0.0;
        for (b, bound) in buckets.iter().zip(
            bounds
                .iter()
                .map(|b| text::float(*b))
                .chain(["+Inf".into()]),
        ) {
            assert_eq!(b.labels["le"], bound, "{name}: buckets in order");
            assert!(b.value >= last, "{name}: cumulative");
            last = b.value;
        }
        assert_eq!(last, expected_count, "{name}: +Inf holds every observation");
        let mut with_le = lbl.to_vec();
        with_le.push(("le", "+Inf"));
        assert_eq!(
            p.get(&format!("{name}_bucket"), &with_le),
            Some(expected_count)
        );
        assert_eq!(p.get(&format!("{name}_count"), &lbl), Some(expected_count));
        let sum = p.get(&format!("{name}_sum"), &lbl).unwrap();
        assert!((sum - expected_sum).abs() < 1e-9, "{name}: {sum}");
    }
    let le = |le| {
        let labels = [("path", "/v1/messages"), ("upstream", "kiro"), ("le", le)];
        p.get("conduit_request_duration_seconds_bucket", &labels)
            .unwrap()
    };
    let table = [
        ("0.05", 1.0),
        ("0.25", 1.0),
        ("0.5", 2.0),
        ("2.5", 2.0),
        ("5", 3.0),
        ("600", 3.0),
    ];
    for (bound, n) in table {
        assert_eq!(le(bound), n, "le={bound}");
    }
}

#[test]
fn label_values_are_escaped() {
    let cases = [
        ("plain", "plain"),
        ("a\"b", "a\\\"b"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ("\\\"\n", "\\\\\\\"\\n"),
    ];
    for (raw, escaped) in cases {
        assert_eq!(escape_label(raw), escaped);
        // And back, through the strict reader.
        let mut t = Text::new();
        t.family(
            "conduit_x_total",
            "counter",
            "help with a \\ and a\nnewline",
        );
        t.sample(
            "conduit_x_total",
            &["v"],
            &[raw.into()],
            Some(("k", raw)),
            1u64,
        );
        let text = t.finish();
        let p = parse(&text);
        assert_eq!(
            p.get("conduit_x_total", &[("v", raw), ("k", raw)]),
            Some(1.0),
            "{text}"
        );
        assert!(
            text.starts_with("# HELP conduit_x_total help with a \\\\ and a\\nnewline\n"),
            "{text}"
        );
    }
    assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
}

#[test]
fn free_text_becomes_a_label_only_when_it_looks_like_an_id() {
    let long = "m".repeat(65);
    let cases = [
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        (
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:1:inference-profile/x",
            "arn:aws:bedrock:us-east-1:1:inference-profile/x",
        ),
        (&long[1..], &long[1..]),
        (&long, labels::OTHER),
        ("with space", labels::OTHER),
        ("quote\"", labels::OTHER),
        ("new\nline", labels::OTHER),
        ("ünïcode", labels::OTHER),
        ("", labels::NONE),
        ("-", labels::NONE),
    ];
    for (given, label) in cases {
        assert_eq!(labels::bounded(given), label, "{given:?}");
    }
    let r = registry(MAX_SERIES);
    r.request(
        "/v1/messages",
        "kiro",
        "evil\"} 1\nconduit_fake 2",
        200,
        ms(1),
        None,
    );
    let p = parse(&r.render());
    let labels = [
        ("path", "/v1/messages"),
        ("upstream", "kiro"),
        ("model", "other"),
        ("status", "200"),
    ];
    assert_eq!(p.get("conduit_requests_total", &labels), Some(1.0));
}

#[test]
fn statuses_are_three_digits() {
    let cases = [
        (200, Some("200")),
        (499, Some("499")),
        (100, Some("100")),
        (999, Some("999")),
        (99, None),
        (1000, None),
    ];
    for (status, label) in cases {
        assert_eq!(
            labels::Status::new(status)
                .as_ref()
                .map(labels::Status::as_str),
            label
        );
    }
}

#[test]
fn label_sets_past_the_cap_fold_into_other() {
    let r = registry(3);
    for i in 0..10 {
        r.request(
            "/v1/messages",
            "kiro",
            &format!("model-{i}"),
            200,
            ms(1),
            None,
        );
        r.tokens(&format!("up-{i}"), &format!("model-{i}"), &[("input", 1)]);
    }
    let p = parse(&r.render());
    let requests = p.of("conduit_requests_total");
    assert_eq!(requests.len(), 4, "three kept, one folded: {requests:?}");
    let folded = [
        ("path", "/v1/messages"),
        ("upstream", "other"),
        ("model", "other"),
        ("status", "200"),
    ];
    assert_eq!(p.get("conduit_requests_total", &folded), Some(7.0));
    let total: f64 = requests.iter().map(|s| s.value).sum();
    assert_eq!(total, 10.0, "nothing is lost by folding");
    let input = [("upstream", "other"), ("model", "other"), ("type", "input")];
    assert_eq!(p.get("conduit_tokens_total", &input), Some(7.0));
}

#[test]
fn tokens_by_type_and_cost_in_dollars() {
    let r = registry(MAX_SERIES);
    let counts = [
        ("input", 100),
        ("cache_write_5m", 20),
        ("cache_write_1h", 30),
        ("cache_read", 400),
        ("output", 50),
    ];
    r.tokens("bedrock", "claude-sonnet-4-6", &counts);
    r.tokens(
        "bedrock",
        "claude-sonnet-4-6",
        &[("output", 1), ("not_a_type", 9)],
    );
    r.cost("bedrock", "claude-sonnet-4-6", 1_234_567_890);
    r.cost("bedrock", "claude-sonnet-4-6", 10);
    r.cost("bedrock", "claude-sonnet-4-6", -5);
    r.tokens("bedrock", "unpriced-model", &[("input", 1)]);
    let p = parse(&r.render());
    let tok = |t| {
        p.get(
            "conduit_tokens_total",
            &[
                ("upstream", "bedrock"),
                ("model", "claude-sonnet-4-6"),
                ("type", t),
            ],
        )
    };
    for (t, n) in [
        ("input", 100.0),
        ("cache_write_5m", 20.0),
        ("cache_write_1h", 30.0),
        ("cache_read", 400.0),
        ("output", 51.0),
    ] {
        assert_eq!(tok(t), Some(n), "{t}");
    }
    assert_eq!(p.of("conduit_tokens_total").len(), 10);
    let usd = p.get(
        "conduit_cost_usd_total",
        &[("upstream", "bedrock"), ("model", "claude-sonnet-4-6")],
    );
    assert_eq!(usd, Some(1.2345679));
    assert_eq!(
        p.of("conduit_cost_usd_total").len(),
        1,
        "an unpriced model has no cost sample"
    );
}

#[test]
fn open_streams_count_while_their_guards_live() {
    let r = registry(MAX_SERIES);
    let open = |r: &Registry| parse(&r.render()).get("conduit_open_streams", &[]);
    let a = r.stream_opened();
    let b = r.stream_opened();
    assert_eq!(open(r), Some(2.0));
    drop(a);
    assert_eq!(open(r), Some(1.0));
    drop(b);
    assert_eq!(open(r), Some(0.0));
}

#[test]
fn refusals_by_reason_and_the_ledger() {
    let r = registry(MAX_SERIES);
    for reason in [
        "rate_limit",
        "rate_limit",
        "budget",
        "limits_unavailable",
        "typo",
    ] {
        r.refused(reason);
    }
    r.ledger_written.fetch_add(7, Relaxed);
    r.ledger_pending.store(3, Relaxed);
    r.ledger_flush_errors.fetch_add(1, Relaxed);
    let p = parse(&r.render());
    let table = [
        ("rate_limit", 2.0),
        ("tokens_per_minute", 0.0),
        ("concurrency", 0.0),
        ("budget", 1.0),
        ("limits_unavailable", 1.0),
        ("other", 1.0),
    ];
    for (reason, n) in table {
        assert_eq!(
            p.get("conduit_refusals_total", &[("reason", reason)]),
            Some(n),
            "{reason}"
        );
    }
    assert_eq!(p.get("conduit_ledger_rows_written_total", &[]), Some(7.0));
    assert_eq!(p.get("conduit_ledger_rows_pending", &[]), Some(3.0));
    assert_eq!(p.get("conduit_ledger_flush_errors_total", &[]), Some(1.0));
}

#[test]
fn error_kinds_are_snake_case() {
    use conduit_core::ErrorKind;
    let cases = [
        (ErrorKind::InvalidRequest, "invalid_request"),
        (
            ErrorKind::ContextOverflow { tokens: 1, max: 1 },
            "context_overflow",
        ),
        (ErrorKind::RateLimited, "rate_limited"),
        (ErrorKind::UpstreamProtocol, "upstream_protocol"),
        (ErrorKind::Unavailable, "unavailable"),
    ];
    for (kind, label) in cases {
        assert_eq!(error_kind(&kind), label);
    }
}

#[test]
fn the_process_registry_renders_through_the_public_functions() {
    request(
        "/v1/messages",
        "public-fn-test",
        "m",
        200,
        ms(5),
        Some(ms(1)),
    );
    upstream_error(
        "public-fn-test",
        error_kind(&conduit_core::ErrorKind::Timeout),
    );
    let p = parse(&render());
    let labels = [
        ("path", "/v1/messages"),
        ("upstream", "public-fn-test"),
        ("model", "m"),
        ("status", "200"),
    ];
    assert!(p.get("conduit_requests_total", &labels).unwrap() >= 1.0);
    let err = [("upstream", "public-fn-test"), ("kind", "timeout")];
    assert!(p.get("conduit_upstream_errors_total", &err).unwrap() >= 1.0);
}
