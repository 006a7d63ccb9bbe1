//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` for every
//! family, then one line per sample, `name{label="value",...} number`.

use std::fmt::Write;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) struct Text {
    out: String,
}

impl Text {
    pub fn new() -> Self {
        Self {
            out: String::with_capacity(16 * 1024),
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// The `# HELP` and `# TYPE` lines that open a family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample: `name{names[i]="values[i]",... ,extra} value`.
    pub fn sample(
        &mut self,
        name: &str,
        names: &[&str],
        values: &[Box<str>],
        extra: Option<(&str, &str)>,
        value: impl Number,
    ) {
        self.out.push_str(name);
        let pairs = names
            .iter()
            .zip(values.iter().map(|v| &**v))
            .map(|(n, v)| (*n, v))
            .chain(extra);
        let mut first = true;
        for (n, v) in pairs {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            let _ = write!(self.out, "{n}=\"{}\"", escape_label(v));
        }
        if !first {
            self.out.push('}');
        }
        self.out.push(' ');
        value.write(&mut self.out);
        self.out.push('\n');
    }
}

/// A sample value.
pub(crate) trait Number {
    fn write(self, out: &mut String);
}

impl Number for u64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Number for i64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Number for f64 {
    fn write(self, out: &mut String) {
        out.push_str(&float(self));
    }
}

/// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, else Rust's shortest round-trip
/// decimal (never an exponent).
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return v.into();
    }
    let mut s = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.into()
}

/// HELP text: backslash and line feed escaped.
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}
