//! Client model names → Kiro model ids, and the client-facing catalogue.
//!
//! Clients send names the gateway has never seen (`claude-opus-5-5`), dated names, `-latest`,
//! `[1m]` suffixes and dot forms. Every `claude-*` name maps to the best Kiro model of its family;
//! unknown non-Claude names go to `auto`.

use std::collections::HashMap;

use conduit_core::ModelInfo;

/// Kiro's context windows are claimed to be 1M for some models, but the service rejects prompts
/// well below that (spec §5.5), so every model is treated as 200k.
pub const DEFAULT_CONTEXT_WINDOW: u32 = 200_000;
const DEFAULT_MAX_OUTPUT: u32 = 32_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    pub kiro_id: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Opus,
    Sonnet,
    Haiku,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Opus => "opus",
            Family::Sonnet => "sonnet",
            Family::Haiku => "haiku",
        }
    }
}

/// Known Claude models on Kiro, oldest first within each family.
const CLAUDE: &[(Family, (u32, u32), &str)] = &[
    (Family::Opus, (4, 5), "claude-opus-4.5"),
    (Family::Opus, (4, 6), "claude-opus-4.6"),
    (Family::Opus, (4, 7), "claude-opus-4.7"),
    (Family::Sonnet, (4, 0), "claude-sonnet-4"),
    (Family::Sonnet, (4, 5), "claude-sonnet-4.5"),
    (Family::Sonnet, (4, 6), "claude-sonnet-4.6"),
    (Family::Haiku, (4, 5), "claude-haiku-4.5"),
];

/// Other ids Kiro accepts, passed through unchanged.
const OTHER: &[&str] = &[
    "auto",
    "deepseek-3.2",
    "glm-5",
    "minimax-m2.1",
    "minimax-m2.5",
    "qwen3-coder-next",
];

fn resolved(kiro_id: &str) -> ResolvedModel {
    let max_output_tokens = if kiro_id.starts_with("claude-") {
        DEFAULT_MAX_OUTPUT * 2
    } else {
        DEFAULT_MAX_OUTPUT
    };
    ResolvedModel {
        kiro_id: kiro_id.to_string(),
        context_window: DEFAULT_CONTEXT_WINDOW,
        max_output_tokens,
    }
}

/// Maps a client model name to a Kiro model. `overrides` maps exact client names to Kiro ids.
pub fn resolve_model(client_name: &str, overrides: &HashMap<String, String>) -> ResolvedModel {
    if let Some(id) = overrides.get(client_name) {
        return resolved(id);
    }
    resolved(&kiro_id(client_name))
}

fn kiro_id(client_name: &str) -> String {
    let name = normalise(client_name);
    if name == "auto-kiro" {
        return "auto".into();
    }
    if let Some((_, _, id)) = CLAUDE.iter().find(|(_, _, id)| *id == name) {
        return (*id).to_string();
    }
    if let Some(id) = OTHER.iter().find(|id| **id == name) {
        return (*id).to_string();
    }
    if !name.starts_with("claude") {
        return "auto".into();
    }
    let family = [Family::Opus, Family::Sonnet, Family::Haiku]
        .into_iter()
        .find(|f| name.contains(f.name()))
        .unwrap_or(Family::Sonnet);
    let known: Vec<_> = CLAUDE.iter().filter(|(f, _, _)| *f == family).collect();
    let chosen = match version(&name) {
        // The oldest known model at least as new as the one asked for; newer → the newest.
        Some(v) => known.iter().find(|(_, kv, _)| *kv >= v).or(known.last()),
        None => known.last(),
    };
    chosen.map_or("auto", |(_, _, id)| id).to_string()
}

/// Lower case, without `[1m]`-style suffixes, `-latest`, `-thinking` or a `-YYYYMMDD` date.
fn normalise(name: &str) -> String {
    let mut n = name.trim().to_ascii_lowercase();
    if let Some(i) = n.find('[') {
        n.truncate(i);
    }
    loop {
        let before = n.len();
        for suffix in ["-latest", "-thinking"] {
            if let Some(stripped) = n.strip_suffix(suffix) {
                n.truncate(stripped.len());
            }
        }
        if let Some((head, tail)) = n.rsplit_once('-') {
            if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) {
                n.truncate(head.len());
            }
        }
        if n.len() == before {
            return n;
        }
    }
}

/// `(major, minor)` from the numeric parts of a name: `claude-opus-4-5` and `claude-4.5-opus`
/// are both 4.5, `claude-sonnet-4` is 4.0.
fn version(name: &str) -> Option<(u32, u32)> {
    let nums: Vec<u32> = name
        .split(['-', '.', '_'])
        .filter(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|p| p.parse().ok())
        .collect();
    match nums.as_slice() {
        [] => None,
        [major] => Some((*major, 0)),
        [major, minor, ..] => Some((*major, *minor)),
    }
}

/// The models offered to clients (`/v1/models`), newest first, with Anthropic-style ids.
pub fn catalog() -> Vec<ModelInfo> {
    CLAUDE
        .iter()
        .rev()
        .map(|(family, (major, minor), id)| {
            let (client_id, display_version) = if *minor == 0 {
                (
                    format!("claude-{}-{major}", family.name()),
                    format!("{major}"),
                )
            } else {
                (
                    format!("claude-{}-{major}-{minor}", family.name()),
                    format!("{major}.{minor}"),
                )
            };
            let mut fam = family.name().to_string();
            if let Some(first) = fam.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            let r = resolved(id);
            ModelInfo {
                id: client_id,
                display_name: format!("Claude {fam} {display_version}"),
                context_window: r.context_window,
                max_output_tokens: r.max_output_tokens,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(client: &str, expected: &str) {
        let got = resolve_model(client, &HashMap::new());
        assert_eq!(got.kiro_id, expected, "client name {client:?}");
        assert_eq!(got.context_window, 200_000);
    }

    #[test]
    fn maps_client_names() {
        let table = [
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
            ("claude-sonnet-4-5", "claude-sonnet-4.5"),
            ("claude-sonnet-4.5", "claude-sonnet-4.5"),
            ("claude-sonnet-4-6[1m]", "claude-sonnet-4.6"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("claude-sonnet-4-0", "claude-sonnet-4"),
            ("claude-3-7-sonnet-20250219", "claude-sonnet-4"),
            ("claude-3-5-sonnet-latest", "claude-sonnet-4"),
            ("claude-sonnet-5", "claude-sonnet-4.6"),
            ("claude-sonnet-4-7", "claude-sonnet-4.6"),
            ("claude-opus-4-7", "claude-opus-4.7"),
            ("claude-opus-4-6", "claude-opus-4.6"),
            ("claude-opus-4-5-20251101", "claude-opus-4.5"),
            ("claude-opus-4-1-20250805", "claude-opus-4.5"),
            ("claude-opus-4-8", "claude-opus-4.7"),
            ("claude-opus-5-5", "claude-opus-4.7"),
            ("claude-opus-5", "claude-opus-4.7"),
            ("claude-opus-latest", "claude-opus-4.7"),
            ("claude-4.5-opus-high", "claude-opus-4.5"),
            ("Claude-Opus-4-6-Thinking", "claude-opus-4.6"),
            ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
            ("claude-3-5-haiku-20241022", "claude-haiku-4.5"),
            ("claude-haiku-9", "claude-haiku-4.5"),
            ("claude-unknown", "claude-sonnet-4.6"),
            ("auto", "auto"),
            ("auto-kiro", "auto"),
            ("deepseek-3.2", "deepseek-3.2"),
            ("gpt-4o", "auto"),
            ("", "auto"),
        ];
        for (client, expected) in table {
            check(client, expected);
        }
    }

    #[test]
    fn overrides_win_for_exact_names_only() {
        let overrides =
            HashMap::from([("claude-opus-5-5".to_string(), "claude-opus-4.6".to_string())]);
        assert_eq!(
            resolve_model("claude-opus-5-5", &overrides).kiro_id,
            "claude-opus-4.6"
        );
        assert_eq!(
            resolve_model("claude-opus-5-6", &overrides).kiro_id,
            "claude-opus-4.7"
        );
    }

    #[test]
    fn catalog_lists_every_claude_model_with_client_ids() {
        let ids: Vec<_> = catalog()
            .into_iter()
            .map(|m| (m.id, m.display_name))
            .collect();
        insta::assert_debug_snapshot!(ids);
        for m in catalog() {
            assert_eq!(
                resolve_model(&m.id, &HashMap::new())
                    .kiro_id
                    .replace('.', "-"),
                m.id
            );
        }
    }
}
