//! Client model names → Kiro model ids, over a model list (the live catalogue of
//! [`crate::catalog`], or the static table here when Kiro never answered).
//!
//! Clients send names the gateway has never seen (`claude-opus-5-5`), dated names, `-latest`,
//! `[1m]` suffixes and dot forms. The rule, in order (after lower-casing and stripping `[…]`,
//! `@…`, `-latest`, `-thinking` and a `-YYYYMMDD` date):
//! 1. an exact override (`CONDUIT_KIRO_MODEL_OVERRIDES`) wins; `auto-kiro` is `auto`;
//! 2. a name the list has (`claude-opus-4.6`), or has in dot form (`claude-opus-4-6`), is that model;
//! 3. a well-formed Kiro id (`[a-z0-9.-]`, a `M.m` version) of a family the list knows but newer
//!    than its newest member (`claude-opus-9.1`, `deepseek-3.9`) passes through unchanged: a model
//!    Kiro added after the list was fetched;
//! 4. any other `claude-*` name maps to the oldest model of its family (opus, sonnet, haiku,
//!    fable, …) at least as new as the version asked for, else the family's newest; a family
//!    the list lacks maps to the newest Opus (then Sonnet): the best model there is;
//! 5. anything else goes to `auto`.
//!
//! The `[1m]` suffix only tells Claude Code to budget a 1M window; the model's real window is
//! the catalogue's, and the gateway lists `[1m]` ids only where that window is ≥ 1M.

use std::collections::HashMap;

use serde_json::Value;

/// The window assumed when Kiro never said: its 1M claims were not always honoured (spec §5.5).
pub const DEFAULT_CONTEXT_WINDOW: u32 = 200_000;
const DEFAULT_MAX_OUTPUT: u32 = 32_000;
const CLAUDE_MAX_OUTPUT: u32 = 64_000;
/// `maxInputTokens` from which `[1m]` client ids apply.
pub const ONE_MILLION: u32 = 1_000_000;

/// One model of a list: what ListAvailableModels says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct KiroModel {
    /// The Kiro id (dot form), e.g. `claude-opus-4.6`.
    pub model_id: String,
    pub model_name: Option<String>,
    pub max_input_tokens: u32,
    pub max_output_tokens: u32,
    /// `additionalModelRequestFieldsSchema`: what `additionalModelRequestFields` may hold;
    /// `None` = the model refuses the field.
    pub request_fields_schema: Option<Value>,
    pub supported_input_types: Vec<String>,
}

impl KiroModel {
    fn fallback(id: &str) -> Self {
        Self {
            model_id: id.to_string(),
            model_name: None,
            max_input_tokens: DEFAULT_CONTEXT_WINDOW,
            max_output_tokens: if id.starts_with("claude-") {
                CLAUDE_MAX_OUTPUT
            } else {
                DEFAULT_MAX_OUTPUT
            },
            request_fields_schema: None,
            supported_input_types: Vec::new(),
        }
    }
}

/// A model list: the answer of ListAvailableModels, or the static fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelList {
    pub models: Vec<KiroModel>,
    /// Whether Kiro gave this list (false: the static table).
    pub live: bool,
}

/// Claude models known before the live catalogue, oldest first within each family.
const STATIC_CLAUDE: &[&str] = &[
    "claude-opus-4.5",
    "claude-opus-4.6",
    "claude-opus-4.7",
    "claude-sonnet-4",
    "claude-sonnet-4.5",
    "claude-sonnet-4.6",
    "claude-haiku-4.5",
];

/// Other ids Kiro accepted before the live catalogue.
const STATIC_OTHER: &[&str] = &[
    "auto",
    "deepseek-3.2",
    "glm-5",
    "minimax-m2.1",
    "minimax-m2.5",
    "qwen3-coder-next",
];

impl ModelList {
    /// The static table, used for an account whose ListAvailableModels never answered: every
    /// window 200K (not verified), no request-field schemas.
    pub fn fallback() -> Self {
        Self {
            models: STATIC_CLAUDE
                .iter()
                .chain(STATIC_OTHER)
                .map(|id| KiroModel::fallback(id))
                .collect(),
            live: false,
        }
    }

    pub fn get(&self, kiro_id: &str) -> Option<&KiroModel> {
        self.models.iter().find(|m| m.model_id == kiro_id)
    }
}

/// A client model name resolved against a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub kiro_id: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
    /// The model's `additionalModelRequestFieldsSchema` (`None`: send no such field).
    pub request_fields_schema: Option<Value>,
}

/// Maps a client model name to a Kiro model. `overrides` maps exact client names to Kiro ids.
pub fn resolve_model(
    client_name: &str,
    overrides: &HashMap<String, String>,
    list: &ModelList,
) -> ResolvedModel {
    let id = match overrides.get(client_name) {
        Some(id) => id.clone(),
        None => kiro_id(client_name, list),
    };
    let model = list
        .get(&id)
        .cloned()
        .unwrap_or_else(|| KiroModel::fallback(&id));
    ResolvedModel {
        kiro_id: id,
        context_window: model.max_input_tokens,
        max_output_tokens: model.max_output_tokens,
        request_fields_schema: model.request_fields_schema,
    }
}

fn kiro_id(client_name: &str, list: &ModelList) -> String {
    let name = normalise(client_name);
    if name == "auto-kiro" {
        return "auto".into();
    }
    if list.get(&name).is_some() {
        return name;
    }
    for dotted in dot_forms(&name) {
        if list.get(&dotted).is_some() {
            return dotted;
        }
    }
    if is_new_kiro_id(&name, list) {
        return name;
    }
    if name.starts_with("claude") {
        return best_claude(&name, list);
    }
    "auto".into()
}

/// `claude-opus-4-6` → `claude-opus-4.6`; `claude-sonnet-4-0` → also `claude-sonnet-4`.
fn dot_forms(name: &str) -> Vec<String> {
    let Some((head, minor)) = name.rsplit_once('-') else {
        return Vec::new();
    };
    let Some((_, major)) = head.rsplit_once('-') else {
        return Vec::new();
    };
    let numeric = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(major) || !numeric(minor) {
        return Vec::new();
    }
    let mut out = vec![format!("{head}.{minor}")];
    if minor == "0" {
        out.push(head.to_string());
    }
    out
}

/// A Kiro-shaped id (lower case, `[a-z0-9.-]`, a dotted version) of a family the list has,
/// newer than every member the list has: Kiro added it after the list was fetched.
fn is_new_kiro_id(name: &str, list: &ModelList) -> bool {
    let well_formed = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .as_bytes()
            .windows(3)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit());
    if !well_formed {
        return false;
    }
    let Some(family) = family_key(name) else {
        return false;
    };
    let Some(asked) = version(name) else {
        return false;
    };
    let newest = list
        .models
        .iter()
        .filter(|m| family_key(&m.model_id).as_deref() == Some(family.as_str()))
        .filter_map(|m| version(&m.model_id))
        .max();
    newest.is_some_and(|newest| asked > newest)
}

/// `claude-opus` for Claude ids (`claude-{family}-…`), the first segment for others
/// (`deepseek`, `gpt`, `minimax`).
fn family_key(id: &str) -> Option<String> {
    let mut parts = id.split('-');
    let first = parts.next().filter(|p| !p.is_empty())?;
    if first == "claude" {
        let family = parts
            .next()
            .filter(|p| p.bytes().all(|b| b.is_ascii_lowercase()))?;
        return (!family.is_empty()).then(|| format!("claude-{family}"));
    }
    Some(first.to_string())
}

/// The family word of a client's Claude name, wherever it stands (`claude-3-7-sonnet`,
/// `claude-4.5-opus-high`, `claude-fable-5-1`).
fn claude_family(name: &str) -> Option<&str> {
    name.split(['-', '.', '_'])
        .skip(1)
        .find(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The Claude models of one family in the list, oldest first.
fn family_members<'a>(list: &'a ModelList, family: &str) -> Vec<(Option<(u32, u32)>, &'a str)> {
    let key = format!("claude-{family}");
    let mut members: Vec<_> = list
        .models
        .iter()
        .filter(|m| family_key(&m.model_id).as_deref() == Some(key.as_str()))
        .map(|m| (version(&m.model_id), m.model_id.as_str()))
        .collect();
    members.sort();
    members
}

fn best_claude(name: &str, list: &ModelList) -> String {
    let family = claude_family(name).unwrap_or("");
    let members = family_members(list, family);
    if members.is_empty() {
        // A family the list lacks (a new one, or `claude-unknown`): the best model there is.
        for fallback in ["opus", "sonnet"] {
            if let Some((_, id)) = family_members(list, fallback).last() {
                return (*id).to_string();
            }
        }
        return "auto".into();
    }
    let chosen = match version(name) {
        Some(v) => members
            .iter()
            .find(|(kv, _)| kv.is_some_and(|kv| kv >= v))
            .or(members.last()),
        None => members.last(),
    };
    chosen.map_or("auto", |(_, id)| id).to_string()
}

/// Lower case, without `[1m]`-style suffixes, `@date`, `-latest`, `-thinking` or a `-YYYYMMDD`
/// date.
fn normalise(name: &str) -> String {
    let mut n = name.trim().to_ascii_lowercase();
    for cut in ['[', '@'] {
        if let Some(i) = n.find(cut) {
            n.truncate(i);
        }
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

/// `(major, minor)` from the digit runs of a name: `claude-opus-4-5`, `claude-4.5-opus` and
/// `minimax-m4.5` are all 4.5, `claude-sonnet-4` is 4.0.
fn version(name: &str) -> Option<(u32, u32)> {
    let nums: Vec<u32> = name
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty() && p.len() <= 4)
        .filter_map(|p| p.parse().ok())
        .collect();
    match nums.as_slice() {
        [] => None,
        [major] => Some((*major, 0)),
        [major, minor, ..] => Some((*major, *minor)),
    }
}

/// The name a client uses for a Kiro id: Claude ids in Anthropic's dash form
/// (`claude-opus-4.6` → `claude-opus-4-6`), other ids unchanged.
pub fn client_id(kiro_id: &str) -> String {
    if kiro_id.starts_with("claude-") {
        kiro_id.replace('.', "-")
    } else {
        kiro_id.to_string()
    }
}

/// A display name: the catalogue's `modelName`, else one made from the id
/// (`claude-opus-4.6` → `Claude Opus 4.6`).
pub fn display_name(model: &KiroModel) -> String {
    if let Some(name) = model.model_name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.trim().to_string();
    }
    model
        .model_id
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
