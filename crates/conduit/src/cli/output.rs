//! Everything the CLI prints on stdout goes through here: human lines, JSON for scripts, raw
//! bytes (keys, completions). Notes and warnings go to stderr so stdout stays parseable.

#![allow(
    clippy::print_stdout,
    reason = "the CLI's output module is the one place that writes to stdout"
)]

use std::io::Write;

use serde_json::Value;

/// One line for people.
pub fn line(text: impl AsRef<str>) {
    println!("{}", text.as_ref());
}

/// Aligned `label: value` rows.
pub fn rows(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("  {:<width$}  {v}", format!("{k}:"), width = width + 1);
    }
}

/// A JSON document for scripts, pretty-printed.
pub fn json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(_) => println!("{value}"),
    }
}

/// Exactly these bytes, nothing added.
pub fn raw(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// A note on stderr (not part of the command's result).
pub fn note(text: impl AsRef<str>) {
    eprintln!("{}", text.as_ref());
}

/// A warning on stderr.
pub fn warn(text: impl AsRef<str>) {
    eprintln!("warning: {}", text.as_ref());
}
