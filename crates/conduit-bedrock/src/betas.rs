//! What Bedrock accepts of `anthropic-beta`, learned per (model, beta): a beta known to be
//! refused is dropped, an unknown one is forwarded optimistically; a 400 "invalid beta flag"
//! marks the betas it names (or, naming none, every forwarded beta not known good) as refused,
//! and the request is sent once more without them. Bedrock's accepted set drifts by model and
//! region, so a static allowlist would be wrong in both directions.

use std::collections::HashMap;
use std::sync::Mutex;

/// Betas reported accepted by Bedrock for Claude Code traffic.
pub const KNOWN_GOOD: [&str; 3] = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Supported,
    Unsupported,
    Unknown,
}

/// The capability cache of one upstream, keyed by (model id, beta).
#[derive(Debug, Default)]
pub struct BetaCache {
    states: Mutex<HashMap<(String, String), Support>>,
}

impl BetaCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn support(&self, model: &str, beta: &str) -> Support {
        if KNOWN_GOOD.contains(&beta) {
            return Support::Supported;
        }
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states
            .get(&(model.to_owned(), beta.to_owned()))
            .copied()
            .unwrap_or(Support::Unknown)
    }

    /// `betas` without those known to be refused for `model`.
    pub fn filter(&self, model: &str, betas: &[String]) -> Vec<String> {
        betas
            .iter()
            .filter(|b| self.support(model, b) != Support::Unsupported)
            .cloned()
            .collect()
    }

    /// After a 400 "invalid beta flag" for a request that forwarded `forwarded`: marks the
    /// betas the message names, or if it names none every forwarded beta not known good, as
    /// refused. Returns the betas marked (empty: nothing to retry without).
    pub fn learn_rejected(&self, model: &str, forwarded: &[String], message: &str) -> Vec<String> {
        let lower = message.to_ascii_lowercase();
        let named: Vec<String> = forwarded
            .iter()
            .filter(|b| lower.contains(&b.to_ascii_lowercase()))
            .cloned()
            .collect();
        let marked: Vec<String> = if named.is_empty() {
            forwarded
                .iter()
                .filter(|b| self.support(model, b) != Support::Supported)
                .cloned()
                .collect()
        } else {
            named
        };
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for b in &marked {
            states.insert((model.to_owned(), b.clone()), Support::Unsupported);
        }
        marked
    }

    /// After a success: the forwarded betas still unknown are accepted.
    pub fn learn_accepted(&self, model: &str, forwarded: &[String]) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        for b in forwarded {
            if KNOWN_GOOD.contains(&b.as_str()) {
                continue;
            }
            states
                .entry((model.to_owned(), b.clone()))
                .or_insert(Support::Supported);
        }
    }

    /// Every learned state, for `/health` (`model → beta → supported|unsupported`).
    pub fn snapshot(&self) -> serde_json::Value {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = serde_json::Map::new();
        for ((model, beta), s) in states.iter() {
            let entry = out
                .entry(model.clone())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(map) = entry.as_object_mut() {
                let s = match s {
                    Support::Supported => "supported",
                    Support::Unsupported => "unsupported",
                    Support::Unknown => "unknown",
                };
                map.insert(beta.clone(), s.into());
            }
        }
        serde_json::Value::Object(out)
    }
}

/// Whether a ValidationException message is Bedrock's refusal of a beta.
pub fn is_beta_rejection(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("invalid beta flag") || lower.contains("unsupported beta header")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn learning_table() {
        // (forwarded, error message, marked)
        let cases: &[(&[&str], &str, &[&str])] = &[
            (
                &["claude-code-20250219", "oauth-2025-04-20", "x-1"],
                "invalid beta flag",
                &["oauth-2025-04-20", "x-1"],
            ),
            (
                &["oauth-2025-04-20", "x-1"],
                "invalid beta flag: X-1",
                &["x-1"],
            ),
            (&["claude-code-20250219"], "invalid beta flag", &[]),
        ];
        for (forwarded, message, marked) in cases {
            let cache = BetaCache::new();
            let got = cache.learn_rejected("m", &v(forwarded), message);
            assert_eq!(got, v(marked), "{message}");
            for b in *marked {
                assert_eq!(cache.support("m", b), Support::Unsupported);
                assert_eq!(cache.support("other", b), Support::Unknown, "per model");
            }
            assert_eq!(
                cache.filter("m", &v(forwarded)).len(),
                forwarded.len() - marked.len()
            );
        }
    }

    #[test]
    fn success_marks_unknowns_supported_but_never_overrides_a_refusal() {
        let cache = BetaCache::new();
        cache.learn_rejected("m", &v(&["a"]), "invalid beta flag");
        cache.learn_accepted("m", &v(&["a", "b"]));
        assert_eq!(cache.support("m", "a"), Support::Unsupported);
        assert_eq!(cache.support("m", "b"), Support::Supported);
        assert_eq!(cache.snapshot()["m"]["b"], "supported");
        assert!(is_beta_rejection("invalid beta flag"));
        assert!(!is_beta_rejection("Malformed input request"));
    }
}
