//! The spend page's charts, drawn on the server as inline SVG (no script, no inline style: the
//! CSP allows neither): daily cost stacked by model, and top-N horizontal bars. Colours and
//! sizes are SVG presentation attributes; every label goes through maud, so it is escaped.
//! Hand-written rather than a charting crate: two chart shapes, and the crates draw with
//! `style=` attributes or script.

use maud::{html, Markup};

/// One stacked series: a name (a model id) and one value per category, in nano-dollars.
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// The stacked chart's drawing width; the height follows the content and CSS scales the whole.
const WIDTH: f64 = 720.0;
/// Distinct with white separators, each at least 3:1 against the white page (WCAG 1.4.11).
const PALETTE: [&str; 8] = [
    "#0b6bcb", "#c75000", "#1a7f4b", "#8e44ad", "#c0392b", "#117a8b", "#8a6d00", "#555f6d",
];
const INK: &str = "#1f2937";
const GRID: &str = "#d1d5db";
const EMPTY: &str = "No spend in this period.";

// The stacked chart's plot area.
const LEFT: f64 = 80.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const PLOT_H: f64 = 240.0;
const AXIS_H: f64 = 28.0;
const LEGEND_ROW: f64 = 22.0;
const LEGEND_COLS: usize = 3;

// The horizontal bars: narrower, as they often sit in a card half the page wide.
const H_WIDTH: f64 = 480.0;
const H_LABEL: f64 = 170.0;
const H_VALUE: f64 = 90.0;
const H_ROW: f64 = 28.0;

/// Stacked vertical bars: one bar per category (a UTC day), a segment per series, a legend, a
/// y axis in USD and a tooltip per segment. No spend at all: a sentence instead of a chart.
pub fn stacked_bars(title: &str, categories: &[String], series: &[Series]) -> Markup {
    let totals: Vec<i64> = (0..categories.len())
        .map(|c| {
            series
                .iter()
                .fold(0_i64, |t, s| t.saturating_add(value(s, c)))
        })
        .collect();
    let Some(&max) = totals.iter().max().filter(|&&m| m > 0) else {
        return html! { p.empty { (EMPTY) } };
    };
    let ticks = ticks(max);
    let top = ticks.last().copied().unwrap_or(max).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let band = plot_w / categories.len() as f64;
    let bar = (band * 0.7).min(48.0);
    let y = |v: i64| TOP + PLOT_H - v as f64 * PLOT_H / top as f64;
    let base = TOP + PLOT_H;
    let rows = series.len().div_ceil(LEGEND_COLS);
    let height = base + AXIS_H + rows as f64 * LEGEND_ROW + 8.0;
    let every = label_every(categories.len(), plot_w);
    let decimals = tick_decimals(&ticks);
    html! {
        svg.chart role="img" aria-label=(title) viewBox=(view_box(WIDTH, height)) {
            title { (title) }
            g.axis font-size="12" fill=(INK) {
                @for t in &ticks {
                    line x1=(n(LEFT)) x2=(n(WIDTH - RIGHT)) y1=(n(y(*t))) y2=(n(y(*t)))
                        stroke=(GRID) stroke-width="1" {}
                    text x=(n(LEFT - 8.0)) y=(n(y(*t))) dy="0.32em" text-anchor="end" {
                        (tick_label(*t, decimals))
                    }
                }
                @for (c, day) in categories.iter().enumerate() {
                    @if c % every == 0 {
                        text x=(n(LEFT + band * (c as f64 + 0.5))) y=(n(base + 18.0))
                            text-anchor="middle" { (short_day(day)) }
                    }
                }
            }
            @for (c, day) in categories.iter().enumerate() {
                g.bar {
                    @for seg in stack(series, c) {
                        rect x=(n(LEFT + band * c as f64 + (band - bar) / 2.0))
                            y=(n(y(seg.to))) width=(n(bar)) height=(n(y(seg.from) - y(seg.to)))
                            fill=(colour(seg.series)) stroke="#ffffff" stroke-width="1" {
                            title {
                                (series[seg.series].name) " · " (day) ": $"
                                (conduit_spend::usd(seg.to - seg.from))
                            }
                        }
                    }
                }
            }
            line x1=(n(LEFT)) x2=(n(WIDTH - RIGHT)) y1=(n(base)) y2=(n(base))
                stroke=(INK) stroke-width="1" {}
            g.legend font-size="12" fill=(INK) {
                @for (i, s) in series.iter().enumerate() {
                    @let x = LEFT + (i % LEGEND_COLS) as f64 * (plot_w / LEGEND_COLS as f64);
                    @let ly = base + AXIS_H + (i / LEGEND_COLS) as f64 * LEGEND_ROW;
                    g {
                        title { (s.name) }
                        rect x=(n(x)) y=(n(ly)) width="12" height="12" fill=(colour(i)) {}
                        text x=(n(x + 18.0)) y=(n(ly + 6.0)) dy="0.32em" { (clip(&s.name, 30)) }
                    }
                }
            }
        }
    }
}

/// Horizontal bars, one per row in the order given, the value printed at the bar's end.
pub fn hbars(title: &str, rows: &[(String, i64)]) -> Markup {
    let Some(max) = rows.iter().map(|(_, v)| *v).max().filter(|&m| m > 0) else {
        return html! { p.empty { (EMPTY) } };
    };
    let avail = H_WIDTH - H_LABEL - H_VALUE;
    let height = rows.len() as f64 * H_ROW + 8.0;
    html! {
        svg.chart role="img" aria-label=(title) viewBox=(view_box(H_WIDTH, height)) {
            title { (title) }
            @for (i, (label, v)) in rows.iter().enumerate() {
                @let mid = 4.0 + (i as f64 + 0.5) * H_ROW;
                @let w = (*v).max(0) as f64 * avail / max as f64;
                g font-size="13" fill=(INK) {
                    title { (label) ": $" (conduit_spend::usd(*v)) }
                    text x=(n(H_LABEL - 8.0)) y=(n(mid)) dy="0.32em" text-anchor="end" {
                        (clip(label, 22))
                    }
                    rect x=(n(H_LABEL)) y=(n(mid - 9.0)) width=(n(w)) height="18"
                        fill=(colour(0)) {}
                    text x=(n(H_LABEL + w + 6.0)) y=(n(mid)) dy="0.32em" { (money(*v)) }
                }
            }
        }
    }
}

/// One segment of a stacked bar: `[from, to)` of the bar's cumulative value.
#[derive(Debug, PartialEq)]
struct Segment {
    series: usize,
    from: i64,
    to: i64,
}

/// Category `c`'s segments bottom up; each starts where the last ended, so the heights sum to
/// the bar's exactly. Empty and negative values draw nothing.
fn stack(series: &[Series], c: usize) -> Vec<Segment> {
    let mut at = 0_i64;
    let mut out = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let v = value(s, c);
        if v > 0 {
            let to = at.saturating_add(v);
            out.push(Segment {
                series: i,
                from: at,
                to,
            });
            at = to;
        }
    }
    out
}

fn value(s: &Series, c: usize) -> i64 {
    s.values.get(c).copied().unwrap_or(0).max(0)
}

/// Axis ticks from 0 past `max` (nano-dollars) in a step of 1, 2, 2.5 or 5 × 10ⁿ: 4 or 5
/// ticks, none finer than a micro-dollar.
fn ticks(max: i64) -> Vec<i64> {
    let max = max.max(1);
    let raw = max / 4 + i64::from(max % 4 != 0);
    let mut step = raw.max(1000);
    let mut pow = 1000_i64;
    'find: while pow <= i64::MAX / 100 {
        for m in [10, 20, 25, 50] {
            let s = pow / 10 * m;
            if s >= raw {
                step = s;
                break 'find;
            }
        }
        pow *= 10;
    }
    let count = max / step + i64::from(max % step != 0);
    (0..=count).map(|i| i.saturating_mul(step)).collect()
}

/// Enough decimals to tell the ticks apart: 2, or up to 6 for tiny steps.
fn tick_decimals(ticks: &[i64]) -> usize {
    let step = ticks.get(1).copied().unwrap_or(1_000_000_000);
    let mut decimals = 9;
    let mut s = step;
    while decimals > 2 && s % 10 == 0 {
        s /= 10;
        decimals -= 1;
    }
    decimals.min(6)
}

fn tick_label(nanos: i64, decimals: usize) -> String {
    let frac = format!("{:09}", nanos % 1_000_000_000);
    format!("${}.{}", nanos / 1_000_000_000, &frac[..decimals])
}

/// USD for people: cents, or six decimals under a cent.
fn money(nanos: i64) -> String {
    if nanos.abs() >= 10_000_000 {
        format!("${:.2}", nanos as f64 / 1e9)
    } else {
        format!("${}", conduit_spend::usd(nanos))
    }
}

/// Label every k-th category so that labels (about 44 px each) do not overlap.
fn label_every(categories: usize, plot_w: f64) -> usize {
    ((categories as f64 * 44.0 / plot_w).ceil() as usize).max(1)
}

/// `2026-12-06` → `12-06` (the tooltip keeps the year); anything else as given.
fn short_day(day: &str) -> &str {
    let b = day.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        &day[5..]
    } else {
        day
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn view_box(width: f64, height: f64) -> String {
    format!("0 0 {width} {}", n(height))
}

/// A coordinate with one decimal.
fn n(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, values: &[i64]) -> Series {
        Series {
            name: name.into(),
            values: values.to_vec(),
        }
    }

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("2026-12-{d:02}")).collect()
    }

    /// Every value of attribute `name` in `svg`, in order.
    fn attrs(svg: &str, name: &str) -> Vec<f64> {
        let needle = format!(" {name}=\"");
        svg.split(needle.as_str())
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    }

    const XSS: &str = "<script>alert(1)</script>";

    #[test]
    fn labels_are_escaped_and_no_inline_style() {
        let charts = [
            stacked_bars(XSS, &[XSS.to_owned()], &[series(XSS, &[5_000_000])]),
            hbars(XSS, &[(XSS.to_owned(), 5_000_000)]),
            stacked_bars("t", &days(3), &[series("m\"a", &[1, 2, 3])]),
        ];
        for chart in charts {
            let svg = chart.into_string();
            assert!(!svg.contains("<script"), "{svg}");
            assert!(!svg.contains("style"), "{svg}");
            assert!(
                svg.starts_with("<svg class=\"chart\" role=\"img\" aria-label="),
                "{svg}"
            );
            assert!(
                svg.contains("viewBox=\"0 0 720 ") || svg.contains("viewBox=\"0 0 480 "),
                "{svg}"
            );
            assert!(!svg.contains("m\"a"), "{svg}");
        }
        let svg = hbars(XSS, &[(XSS.to_owned(), 1)]).into_string();
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{svg}"
        );
    }

    #[test]
    fn no_spend_is_a_sentence() {
        let empty = "<p class=\"empty\">No spend in this period.</p>";
        let cases: [(&str, Markup); 6] = [
            ("no categories", stacked_bars("t", &[], &[])),
            ("no series", stacked_bars("t", &days(3), &[])),
            (
                "all zero",
                stacked_bars("t", &days(2), &[series("m", &[0, 0])]),
            ),
            (
                "negative",
                stacked_bars("t", &days(1), &[series("m", &[-5])]),
            ),
            ("no rows", hbars("t", &[])),
            ("zero rows", hbars("t", &[("a".into(), 0)])),
        ];
        for (name, chart) in cases {
            assert_eq!(chart.into_string(), empty, "{name}");
        }
    }

    #[test]
    fn stacked_heights_sum_to_the_total() {
        let cases: [(&[i64], &[i64], &[i64]); 4] = [
            (&[1_000_000_000, 0, 333], &[2_000_000_000, 7, 0], &[5, 5, 5]),
            (&[54_399_000], &[290_800], &[1_500]),
            (&[1, 2, 3], &[4, 5, 6], &[7, 8, 9]),
            (&[0, 123_456_789_012], &[987_654_321, 0], &[0, 1]),
        ];
        for (a, b, c) in cases {
            let all = [series("a", a), series("b", b), series("c", c)];
            let cats = days(a.len());
            let top = *ticks(
                (0..cats.len())
                    .map(|i| a[i] + b[i] + c[i])
                    .max()
                    .unwrap_or(0),
            )
            .last()
            .unwrap_or(&1);
            let svg = stacked_bars("t", &cats, &all).into_string();
            let bars: Vec<&str> = svg.split("<g class=\"bar\">").skip(1).collect();
            assert_eq!(bars.len(), cats.len(), "{svg}");
            for (i, bar) in bars.iter().enumerate() {
                let total = a[i] + b[i] + c[i];
                let segments = stack(&all, i);
                assert_eq!(segments.last().map_or(0, |s| s.to), total);
                let bar = bar.split("</g>").next().unwrap_or_default();
                let heights = attrs(bar, "height");
                assert_eq!(heights.len(), segments.len(), "{bar}");
                let drawn: f64 = heights.iter().sum();
                let want = total as f64 * PLOT_H / top as f64;
                assert!(
                    (drawn - want).abs() <= 0.05 * heights.len() as f64 + 1e-9,
                    "day {i}: drawn {drawn}, want {want}"
                );
            }
        }
    }

    #[test]
    fn ticks_are_nice() {
        let cases: [(i64, &[&str]); 6] = [
            (
                1_000_000_000,
                &["$0.00", "$0.25", "$0.50", "$0.75", "$1.00"],
            ),
            (3_000_000_000, &["$0.00", "$1.00", "$2.00", "$3.00"]),
            (54_399_000, &["$0.00", "$0.02", "$0.04", "$0.06"]),
            (
                90_000_000,
                &["$0.000", "$0.025", "$0.050", "$0.075", "$0.100"],
            ),
            (
                12_345,
                &["$0.000000", "$0.000005", "$0.000010", "$0.000015"],
            ),
            (
                4_100_000_000_000,
                &["$0.00", "$2000.00", "$4000.00", "$6000.00"],
            ),
        ];
        for (max, want) in cases {
            let t = ticks(max);
            let labels: Vec<String> = t
                .iter()
                .map(|v| tick_label(*v, tick_decimals(&t)))
                .collect();
            assert_eq!(labels, want, "max {max}");
        }
        // From 4 micro-dollars (finer steps are not labelled) to $200,000,000.
        for max in (21..70)
            .map(|e| 1.5_f64.powi(e) as i64)
            .chain([4_000, 7_777_777])
        {
            let t = ticks(max);
            let step = t[1];
            let mantissa =
                step / 10_i64.pow(step.ilog10()) * 10 + step / 10_i64.pow(step.ilog10() - 1) % 10;
            assert!((4..=5).contains(&t.len()), "max {max}: {t:?}");
            assert!(
                t[t.len() - 2] < max && max <= t[t.len() - 1],
                "max {max}: {t:?}"
            );
            assert!(
                [10, 20, 25, 50].contains(&mantissa),
                "max {max}: step {step}"
            );
        }
        assert!(ticks(i64::MAX).len() <= 5, "no overflow, no endless axis");
        assert_eq!(ticks(1), [0, 1_000], "no step finer than a micro-dollar");
    }

    #[test]
    fn labels_thin_out_and_money_reads() {
        let plot_w = WIDTH - LEFT - RIGHT;
        for (n, every) in [(1, 1), (7, 1), (14, 1), (31, 3), (92, 7)] {
            assert_eq!(label_every(n, plot_w), every, "{n} days");
        }
        for (nanos, want) in [
            (0, "$0.000000"),
            (1_500, "$0.000002"),
            (9_999_999, "$0.010000"),
            (10_000_000, "$0.01"),
            (1_234_567_890_123, "$1234.57"),
        ] {
            assert_eq!(money(nanos), want, "{nanos}");
        }
        assert_eq!(short_day("2026-12-06"), "12-06");
        assert_eq!(short_day("week 49"), "week 49");
        assert_eq!(clip("claude-sonnet-4-5", 8), "claude-…");
    }

    #[test]
    fn tooltips_and_legend() {
        let svg = stacked_bars(
            "Daily cost by model",
            &days(2),
            &[series("sonnet", &[54_399_000, 0]), series("haiku", &[1, 2])],
        )
        .into_string();
        for want in [
            "<title>Daily cost by model</title>",
            "<title>sonnet · 2026-12-01: $0.054399</title>",
            "<title>haiku · 2026-12-02: $0.000000</title>",
            ">12-01</text>",
            "<title>haiku</title>",
        ] {
            assert!(svg.contains(want), "{want}: {svg}");
        }
        assert!(
            !svg.contains("sonnet · 2026-12-02"),
            "zero segments are not drawn: {svg}"
        );
        let rows = [
            ("alice".to_owned(), 2_000_000_000),
            ("bob".to_owned(), 1_000_000_000),
        ];
        let svg = hbars("Top users", &rows).into_string();
        let widths = attrs(&svg, "width");
        assert_eq!(widths, [220.0, 110.0], "{svg}");
        assert!(
            svg.contains(">$2.00</text>") && svg.contains("<title>bob: $1.000000</title>"),
            "{svg}"
        );
    }
}
