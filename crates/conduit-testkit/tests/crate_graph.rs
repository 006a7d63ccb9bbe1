//! The workspace's crate graph: which conduit crate may depend on which. Every crate under
//! `crates/` must have a line in [`RULES`]; a new crate is one new line.
//!
//! Normal and build dependencies are checked against the crate's list. Dev-dependencies may
//! also name the test-only crates ([`TEST_ONLY`]), except where a rule says `dev: false`
//! (the simulator shares no code with what it tests, not even in its tests).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test: a panic is the failure report"
)]

use std::collections::BTreeSet;
use std::path::Path;

/// Any conduit crate (the binary, tools).
const ANY: &[&str] = &["*"];
const CORE: &[&str] = &["conduit-core"];
const UPSTREAM: &[&str] = &["conduit-core", "conduit-upstream"];
const MESSAGES_UPSTREAM: &[&str] = &["conduit-core", "conduit-upstream", "conduit-anthropic"];

/// Crates every crate may name in its dev-dependencies (unless its rule says otherwise).
const TEST_ONLY: &[&str] = &["conduit-sim", "conduit-testkit"];

struct Rule {
    krate: &'static str,
    /// The conduit crates it may depend on.
    deps: &'static [&'static str],
    /// Whether its dev-dependencies may also name [`TEST_ONLY`] crates.
    dev: bool,
}

const fn rule(krate: &'static str, deps: &'static [&'static str]) -> Rule {
    Rule {
        krate,
        deps,
        dev: true,
    }
}

const RULES: &[Rule] = &[
    rule("conduit-core", &[]),
    // Client dialects.
    rule("conduit-anthropic", CORE),
    rule("conduit-openai", CORE),
    // What every upstream shares.
    rule("conduit-upstream", CORE),
    // Upstreams.
    rule("conduit-kiro", UPSTREAM),
    rule("conduit-bedrock", MESSAGES_UPSTREAM),
    rule("conduit-anthropic-api", MESSAGES_UPSTREAM),
    // The team store: the only crate that speaks SQL; no conduit crate below it.
    rule("conduit-store", &[]),
    // Money without IO (prices, cost, budget periods and verdicts): no conduit crate below it.
    rule("conduit-spend", &[]),
    // Test and bench support.
    rule("conduit-testkit", CORE),
    Rule {
        krate: "conduit-sim",
        deps: &[],
        dev: false,
    },
    rule("conduit-bench", ANY),
    // The binary sees everything.
    rule("conduit", ANY),
];

/// The conduit crates named in one dependency table.
fn conduit_deps(table: Option<&toml::Value>) -> BTreeSet<String> {
    table
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|t| t.keys())
        .filter(|k| *k == "conduit" || k.starts_with("conduit-"))
        .cloned()
        .collect()
}

/// (normal + build, dev) conduit dependencies of a manifest, target-specific tables included.
fn deps_of(manifest: &toml::Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut tables = vec![manifest];
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        tables.extend(targets.values());
    }
    let mut normal = BTreeSet::new();
    let mut dev = BTreeSet::new();
    for t in tables {
        normal.extend(conduit_deps(t.get("dependencies")));
        normal.extend(conduit_deps(t.get("build-dependencies")));
        dev.extend(conduit_deps(t.get("dev-dependencies")));
    }
    (normal, dev)
}

fn allowed(list: &[&str], dep: &str) -> bool {
    list.contains(&"*") || list.contains(&dep)
}

#[test]
fn every_crate_depends_only_on_what_its_rule_allows() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut problems = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(crates).unwrap() {
        let path = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let manifest: toml::Value = toml::from_str(&text).expect("a valid Cargo.toml");
        let name = manifest["package"]["name"].as_str().unwrap().to_string();
        let Some(rule) = RULES.iter().find(|r| r.krate == name) else {
            problems.push(format!(
                "{name} has no rule: add one line to RULES in {}",
                file!()
            ));
            continue;
        };
        seen += 1;
        let (normal, dev) = deps_of(&manifest);
        for dep in &normal {
            if !allowed(rule.deps, dep) {
                problems.push(format!("{name} may not depend on {dep}"));
            }
        }
        for dep in &dev {
            let test_only = rule.dev && TEST_ONLY.contains(&dep.as_str());
            if dep != &name && !allowed(rule.deps, dep) && !test_only {
                problems.push(format!("{name} may not dev-depend on {dep}"));
            }
        }
    }
    assert!(
        seen >= 5,
        "found only {seen} crates under {}",
        crates.display()
    );
    assert!(problems.is_empty(), "crate graph:\n{}", problems.join("\n"));
}

#[test]
fn the_rules_name_each_crate_once() {
    let names: BTreeSet<&str> = RULES.iter().map(|r| r.krate).collect();
    assert_eq!(names.len(), RULES.len());
}
