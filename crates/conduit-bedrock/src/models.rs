//! Client model names → Bedrock model ids: the inference-profile prefix from the region or the
//! config, application-profile ARNs and configured ids passed through unchanged (a configured
//! prefix is never rewritten: it may carry data-residency intent), dated names and the `[1m]`
//! suffix understood, and the bare foundation id kept for CountTokens.

use std::collections::BTreeMap;

/// The beta a `[1m]` model name asks for.
pub const CONTEXT_1M_BETA: &str = "context-1m-2025-08-07";

/// Prefixes of cross-region inference profiles.
const PROFILE_PREFIXES: [&str; 7] = ["us-gov", "us", "eu", "apac", "jp", "au", "global"];

/// One known Claude model on Bedrock.
struct Known {
    /// The client-facing name, undated.
    name: &'static str,
    foundation: &'static str,
    display: &'static str,
    context_window: u32,
    max_output_tokens: u32,
    /// Whether `[1m]` gives it a 1M-token window.
    one_m: bool,
}

const fn known(
    name: &'static str,
    foundation: &'static str,
    display: &'static str,
    max_output_tokens: u32,
    one_m: bool,
) -> Known {
    Known {
        name,
        foundation,
        display,
        context_window: 200_000,
        max_output_tokens,
        one_m,
    }
}

const KNOWN: [Known; 10] = [
    known(
        "claude-opus-5-5",
        "anthropic.claude-opus-5-5",
        "Claude Opus 5.5",
        128_000,
        true,
    ),
    known(
        "claude-sonnet-5",
        "anthropic.claude-sonnet-5",
        "Claude Sonnet 5",
        64_000,
        true,
    ),
    known(
        "claude-opus-4-7",
        "anthropic.claude-opus-4-7",
        "Claude Opus 4.7",
        128_000,
        true,
    ),
    known(
        "claude-opus-4-6",
        "anthropic.claude-opus-4-6-v1",
        "Claude Opus 4.6",
        128_000,
        true,
    ),
    known(
        "claude-sonnet-4-6",
        "anthropic.claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        64_000,
        true,
    ),
    known(
        "claude-opus-4-5",
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "Claude Opus 4.5",
        64_000,
        false,
    ),
    known(
        "claude-sonnet-4-5",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5",
        64_000,
        true,
    ),
    known(
        "claude-haiku-4-5",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5",
        64_000,
        false,
    ),
    known(
        "claude-opus-4-1",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "Claude Opus 4.1",
        32_000,
        false,
    ),
    known(
        "claude-sonnet-4",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4",
        64_000,
        true,
    ),
];

/// A client's model name as this upstream serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockModel {
    /// The name the client sent.
    pub client: String,
    /// The id in the InvokeModel path: a profile id or an ARN.
    pub invoke_id: String,
    /// The bare foundation id, for CountTokens (`None` for an ARN: its model is not known here).
    pub foundation_id: Option<String>,
    /// The client asked for the 1M window (`[1m]`).
    pub one_m: bool,
    pub context_window: u32,
    pub max_output_tokens: u32,
}

/// Resolves `client` (`claude-opus-4-7`, `claude-haiku-4-5-20251001`, `claude-opus-4-6[1m]`,
/// `us.anthropic.claude-opus-4-7`, an ARN) with `prefix` (`us`) and the configured overrides.
/// `None` for names that are not Claude models: this upstream does not serve them.
pub fn resolve(
    client: &str,
    prefix: &str,
    overrides: &BTreeMap<String, String>,
) -> Option<BedrockModel> {
    let trimmed = client.trim();
    let (base, one_m) = match trimmed.strip_suffix("[1m]") {
        Some(b) => (b.trim(), true),
        None => (trimmed, false),
    };
    let configured = overrides
        .get(trimmed)
        .or_else(|| overrides.get(base))
        .or_else(|| overrides.get(undated(base)));
    let invoke_id = match configured {
        Some(id) => id.clone(),
        None if base.starts_with("arn:") => base.to_owned(),
        None => match foundation_of(base) {
            Some(f) if f == base => format!("{prefix}.{f}"),
            Some(_) => base.to_owned(), // already a profile id: its prefix is kept
            None => format!("{prefix}.{}", foundation_for_name(base)?),
        },
    };
    let foundation_id = foundation_of(&invoke_id).map(str::to_owned);
    let known = foundation_id
        .as_deref()
        .and_then(|f| KNOWN.iter().find(|k| k.foundation == f))
        .or_else(|| KNOWN.iter().find(|k| k.name == undated(base)));
    let (window, max_out, has_1m) = known.map_or((200_000, 64_000, false), |k| {
        (k.context_window, k.max_output_tokens, k.one_m)
    });
    Some(BedrockModel {
        client: client.to_owned(),
        invoke_id,
        foundation_id,
        one_m,
        context_window: if one_m && has_1m { 1_000_000 } else { window },
        max_output_tokens: max_out,
    })
}

/// The foundation id a client name stands for: the table's, or `anthropic.{name}` for a Claude
/// name the table does not know yet (new models follow that pattern).
fn foundation_for_name(name: &str) -> Option<String> {
    let undated = undated(name);
    if let Some(k) = KNOWN.iter().find(|k| k.name == undated) {
        return Some(k.foundation.to_owned());
    }
    name.starts_with("claude-")
        .then(|| format!("anthropic.{name}"))
}

/// `claude-haiku-4-5-20251001` → `claude-haiku-4-5` (a trailing `-YYYYMMDD` dropped).
fn undated(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => name,
    }
}

/// The bare foundation id inside a Bedrock id: `us.anthropic.x` → `anthropic.x`,
/// `anthropic.x` → itself; `None` for anything else (an ARN, a client name).
pub fn foundation_of(id: &str) -> Option<&str> {
    if id.starts_with("anthropic.") {
        return Some(id);
    }
    let (prefix, rest) = id.split_once('.')?;
    (PROFILE_PREFIXES.contains(&prefix) && rest.starts_with("anthropic.")).then_some(rest)
}

/// The models this upstream lists: every known one under the given prefix (and its `[1m]` form
/// where that applies).
pub fn listed(_prefix: &str) -> Vec<conduit_core::ModelInfo> {
    let mut out = Vec::new();
    for k in &KNOWN {
        out.push(conduit_core::ModelInfo {
            id: k.name.to_owned(),
            display_name: k.display.to_owned(),
            context_window: k.context_window,
            max_output_tokens: k.max_output_tokens,
        });
        if k.one_m {
            out.push(conduit_core::ModelInfo {
                id: format!("{}[1m]", k.name),
                display_name: format!("{} (1M context)", k.display),
                context_window: 1_000_000,
                max_output_tokens: k.max_output_tokens,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_ids() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "claude-sonnet-4-6".to_owned(),
            "global.anthropic.claude-sonnet-4-6".to_owned(),
        );
        overrides.insert(
            "team-opus".to_owned(),
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc".to_owned(),
        );
        // (client, prefix, invoke id, foundation id, window)
        type Want<'a> = Option<(&'a str, Option<&'a str>, u32)>;
        let cases: &[(&str, &str, Want)] = &[
            (
                "claude-opus-4-7",
                "us",
                Some((
                    "us.anthropic.claude-opus-4-7",
                    Some("anthropic.claude-opus-4-7"),
                    200_000,
                )),
            ),
            (
                "claude-opus-4-6",
                "eu",
                Some((
                    "eu.anthropic.claude-opus-4-6-v1",
                    Some("anthropic.claude-opus-4-6-v1"),
                    200_000,
                )),
            ),
            (
                "claude-opus-4-6[1m]",
                "us",
                Some((
                    "us.anthropic.claude-opus-4-6-v1",
                    Some("anthropic.claude-opus-4-6-v1"),
                    1_000_000,
                )),
            ),
            (
                "claude-sonnet-4-5",
                "apac",
                Some((
                    "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    Some("anthropic.claude-sonnet-4-5-20250929-v1:0"),
                    200_000,
                )),
            ),
            (
                "claude-haiku-4-5-20251001",
                "global",
                Some((
                    "global.anthropic.claude-haiku-4-5-20251001-v1:0",
                    Some("anthropic.claude-haiku-4-5-20251001-v1:0"),
                    200_000,
                )),
            ),
            (
                "claude-haiku-4-5[1m]",
                "us",
                Some((
                    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                    Some("anthropic.claude-haiku-4-5-20251001-v1:0"),
                    200_000,
                )),
            ),
            (
                "claude-sonnet-4-6",
                "us",
                Some((
                    "global.anthropic.claude-sonnet-4-6",
                    Some("anthropic.claude-sonnet-4-6"),
                    200_000,
                )),
            ),
            (
                "claude-sonnet-4-6[1m]",
                "us",
                Some((
                    "global.anthropic.claude-sonnet-4-6",
                    Some("anthropic.claude-sonnet-4-6"),
                    1_000_000,
                )),
            ),
            (
                "team-opus",
                "us",
                Some((
                    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
                    None,
                    200_000,
                )),
            ),
            (
                "arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
                "us",
                Some((
                    "arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
                    None,
                    200_000,
                )),
            ),
            (
                "eu.anthropic.claude-opus-4-7",
                "us",
                Some((
                    "eu.anthropic.claude-opus-4-7",
                    Some("anthropic.claude-opus-4-7"),
                    200_000,
                )),
            ),
            (
                "anthropic.claude-opus-4-7",
                "jp",
                Some((
                    "jp.anthropic.claude-opus-4-7",
                    Some("anthropic.claude-opus-4-7"),
                    200_000,
                )),
            ),
            (
                "claude-fable-9",
                "us",
                Some((
                    "us.anthropic.claude-fable-9",
                    Some("anthropic.claude-fable-9"),
                    200_000,
                )),
            ),
            ("gpt-4o", "us", None),
            ("kiro-auto", "us", None),
        ];
        for (client, prefix, want) in cases {
            let got = resolve(client, prefix, &overrides)
                .map(|m| (m.invoke_id, m.foundation_id, m.context_window));
            let want = want.map(|(i, f, w)| (i.to_owned(), f.map(str::to_owned), w));
            assert_eq!(got, want, "{client} with {prefix}");
        }
        assert!(
            resolve("claude-opus-4-7[1m]", "us", &overrides)
                .unwrap()
                .one_m
        );
    }
}
