//! Model ids to price keys: one spelling for the same model from every upstream.
//!
//! Bedrock says `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, Vertex `claude-sonnet-4-5@20250929`,
//! Kiro `claude-sonnet-4.5`, the Anthropic API `claude-sonnet-4-5-20250929`; all price as
//! `claude-sonnet-4-5`.

/// Bedrock cross-region inference-profile prefixes (`us.anthropic.…`, `global.anthropic.…`).
const REGION_PREFIXES: &[&str] = &[
    "us-gov.", "us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "sa.", "me.", "af.",
];

/// Normalises a model id to its price key: lowercase, without a Bedrock ARN path, region
/// prefix, `anthropic.` or `-v1:0` version suffix, without a Vertex `@date` or a `-YYYYMMDD`
/// date, with dots and underscores spelled as dashes (Kiro's `claude-sonnet-4.5`, Kiro's internal
/// `CLAUDE_SONNET_4_5_20250929_V1_0`).
pub fn normalise(model: &str) -> String {
    let mut id = model.trim().to_ascii_lowercase();
    // Vertex: `claude-sonnet-4-5@20250929`.
    if let Some(at) = id.find('@') {
        id.truncate(at);
    }
    // Bedrock ARNs: `arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…`.
    if let Some(slash) = id.rfind('/') {
        id.drain(..=slash);
    }
    if let Some(rest) = REGION_PREFIXES.iter().find_map(|p| id.strip_prefix(p)) {
        id = rest.to_owned();
    }
    if let Some(rest) = id.strip_prefix("anthropic.") {
        id = rest.to_owned();
    }
    let mut id: String = id
        .chars()
        .map(|c| if c == '.' || c == '_' { '-' } else { c })
        .collect();
    strip_version_suffix(&mut id);
    strip_date_suffix(&mut id);
    id
}

/// Whether the normalised id `id` is priced by the list key `key`.
///
/// The key must match whole dash-separated components, and what follows must not be another
/// version number: `claude-opus-4` prices `claude-opus-4`, `claude-opus-4-0` and
/// `claude-opus-4-latest`, but not `claude-opus-4-7` (a different model with its own price,
/// which must stay unknown rather than borrow Opus 4's). `minor_versions` lifts that rule for
/// family rows such as "Sonnet 4.x".
pub(crate) fn key_matches(id: &str, key: &str, minor_versions: bool) -> bool {
    let Some(rest) = id.strip_prefix(key) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let next = rest.split('-').next().unwrap_or("");
    let is_version =
        !next.is_empty() && next.len() <= 2 && next.bytes().all(|b| b.is_ascii_digit());
    minor_versions || !is_version || next == "0"
}

/// Strips Bedrock's `-v1:0` / `-v2` (or Kiro's `_v1_0`, already dashed) from the end.
fn strip_version_suffix(id: &mut String) {
    let Some(dash) = id.rfind("-v") else {
        return;
    };
    let tail = &id[dash + 2..];
    let (major, minor) = match tail.split_once([':', '-']) {
        Some((major, minor)) => (major, Some(minor)),
        None => (tail, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(major) && minor.is_none_or(digits) {
        id.truncate(dash);
    }
}

/// Strips a trailing `-YYYYMMDD` snapshot date.
fn strip_date_suffix(id: &mut String) {
    if let Some(dash) = id.rfind('-') {
        let tail = &id[dash + 1..];
        if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) && tail.starts_with('2') {
            id.truncate(dash);
        }
    }
}

#[cfg(test)]
mod tests;
