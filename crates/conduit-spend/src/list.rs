//! The seeded list prices (team-gateway.md §5.1, plus older models clients still send).
//!
//! Rates are written as published, in micro-dollars per million tokens, never computed from the
//! input rate: the read ratio differs per model (0.1×, 0.05×, 0.025×), and Claude 3 Haiku's
//! writes do not follow 1.25×.
//!
//! Not modelled (see §5.1): fast mode's higher rates, the long-context premium of Sonnet 4/4.5
//! with `context-1m` above 200K input, Fable/Mythos 5.2, web-search fees. Opus 4.7 and Fable 5
//! have no published price in the spec, so they stay unknown (no cost, a warning) until an
//! override names one.

use crate::price::PriceEntry;
use crate::rates::{Band, Rates};

const PRICING: &str = "https://platform.claude.com/docs/en/about-claude/pricing";

/// 2026-10-07T00:00:00Z, when Sonnet 5.5's read rate fell from $0.20 to $0.10 (the time of day is
/// not published; UTC midnight is assumed).
const SONNET_5_5_READ_CUT: i64 = 1_791_331_200;

/// Dollars-per-MTok in thousandths → micro-dollars per MTok (`m(3_750)` is $3.75/MTok).
const fn m(milli_usd_per_mtok: i64) -> i64 {
    milli_usd_per_mtok * 1000
}

/// Rates in the spec table's column order: in, out, write 5m, write 1h, read.
const fn rates(input: i64, output: i64, write_5m: i64, write_1h: i64, read: i64) -> Rates {
    Rates {
        input: m(input),
        output: m(output),
        cache_read: m(read),
        write_5m: m(write_5m),
        write_1h: m(write_1h),
    }
}

struct Row {
    model: &'static str,
    minor_versions: bool,
    effective_from: i64,
    rates: Rates,
    band: Option<Band>,
    source: &'static str,
}

const fn row(model: &'static str, rates: Rates, source: &'static str) -> Row {
    Row {
        model,
        minor_versions: false,
        effective_from: 0,
        rates,
        band: None,
        source,
    }
}

/// Every list row; milli-dollars per MTok, columns: in, out, write 5m, write 1h, read.
const ROWS: &[Row] = &[
    row(
        "claude-fable-5-1",
        rates(10_000, 50_000, 12_500, 20_000, 250),
        "https://platform.claude.com/docs/en/models/fable-5-1/overview; BerriAI/litellm discussion #39163",
    ),
    row(
        "claude-opus-5-5",
        rates(4_000, 20_000, 5_000, 8_000, 200),
        "https://platform.claude.com/docs/en/models/opus-5-5/overview",
    ),
    row(
        "claude-opus-5",
        rates(5_000, 25_000, 6_250, 10_000, 500),
        "https://platform.claude.com/docs/en/models/opus-5/overview (legacy)",
    ),
    row(
        "claude-sonnet-5-5",
        rates(2_000, 10_000, 2_500, 4_000, 200),
        "https://platform.claude.com/docs/en/models/sonnet-5-5/overview; kurofune/claudit v1.9.2; TheKrush/PromptFuel v1.0.23",
    ),
    Row {
        effective_from: SONNET_5_5_READ_CUT,
        ..row(
            "claude-sonnet-5-5",
            rates(2_000, 10_000, 2_500, 4_000, 100),
            "https://platform.claude.com/docs/en/models/sonnet-5-5/overview (read $0.10 from 2026-10-07); kurofune/claudit v1.9.2; TheKrush/PromptFuel v1.0.23",
        )
    },
    row(
        "claude-sonnet-5",
        rates(2_000, 10_000, 2_500, 4_000, 200),
        "https://platform.claude.com/docs/en/models/sonnet-5/overview",
    ),
    // UNCONFIRMED [?] in the spec: the two bands and the rule that "prompt" is input + cache
    // reads + cache writes, and that over 100K every token of the request, output included,
    // takes the higher band, come from third-party tools (claudit, PromptFuel), not Anthropic.
    Row {
        band: Some(Band {
            above_prompt_tokens: 100_000,
            rates: rates(500, 2_500, 625, 1_000, 50),
        }),
        ..row(
            "claude-haiku-5-5",
            rates(100, 500, 125, 200, 10),
            "kurofune/claudit v1.9.2; TheKrush/PromptFuel v1.0.23 (unconfirmed)",
        )
    },
    row("claude-opus-4-5", rates(5_000, 25_000, 6_250, 10_000, 500), PRICING),
    row("claude-opus-4-6", rates(5_000, 25_000, 6_250, 10_000, 500), PRICING),
    // 4.7 sits between 4.6 and 4.8, which share one price; no source names 4.7 itself
    // (unconfirmed), and it is the model Claude Code asks for most.
    row(
        "claude-opus-4-7",
        rates(5_000, 25_000, 6_250, 10_000, 500),
        "assumed as Opus 4.6/4.8 (unconfirmed; no published 4.7 row)",
    ),
    // Only 4.8's input and output rates are reported (unconfirmed); the cache rates are taken to
    // be those of 4.5/4.6, whose in/out it shares.
    row(
        "claude-opus-4-8",
        rates(5_000, 25_000, 6_250, 10_000, 500),
        "archid21/rightsize v0.10.2 (in/out; unconfirmed); cache rates as Opus 4.5/4.6 per the pricing page",
    ),
    // "Sonnet 4.x": 4, 4.5, 4.6 and later minor versions share one price.
    Row {
        minor_versions: true,
        ..row("claude-sonnet-4", rates(3_000, 15_000, 3_750, 6_000, 300), PRICING)
    },
    row("claude-haiku-4-5", rates(1_000, 5_000, 1_250, 2_000, 100), PRICING),
    row("claude-opus-4", rates(15_000, 75_000, 18_750, 30_000, 1_500), PRICING),
    row("claude-opus-4-1", rates(15_000, 75_000, 18_750, 30_000, 1_500), PRICING),
    row("claude-3-7-sonnet", rates(3_000, 15_000, 3_750, 6_000, 300), PRICING),
    row("claude-3-5-sonnet", rates(3_000, 15_000, 3_750, 6_000, 300), PRICING),
    row("claude-3-5-haiku", rates(800, 4_000, 1_000, 1_600, 80), PRICING),
    row("claude-3-opus", rates(15_000, 75_000, 18_750, 30_000, 1_500), PRICING),
    row("claude-3-haiku", rates(250, 1_250, 300, 500, 30), PRICING),
];

/// The rows as table entries.
pub(crate) fn entries() -> Vec<PriceEntry> {
    ROWS.iter()
        .map(|r| PriceEntry {
            model: r.model.to_owned(),
            minor_versions: r.minor_versions,
            effective_from: r.effective_from,
            rates: r.rates,
            band: r.band,
            source: r.source.to_owned(),
        })
        .collect()
}
