//! Prompt-cache accounting: the cached prefix of a request (up to and including the last block
//! with `cache_control`), its token count and hash, and the table of prefixes seen so far.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::state::State;

/// Input-side usage of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InputUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// The measured request: all its counted parts, and the cached prefix if it has a breakpoint.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub total_tokens: u64,
    /// `(tokens, hash)` of the prefix.
    pub prefix: Option<(u64, [u8; 32])>,
}

/// A copy without `cache_control` keys, so the marker itself does not change the prefix.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "cache_control")
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Whether a block carries a breakpoint, itself or on a block nested in its `content`
/// (a `tool_result`'s).
fn has_cc(v: &Value) -> bool {
    v.get("cache_control").is_some_and(|c| !c.is_null())
        || v.get("content")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(has_cc))
}

/// The counted parts in prompt order (tools, system, message blocks), each with whether it
/// carries a breakpoint.
fn parts(body: &Value) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push((strip(t).to_string(), has_cc(t)));
    }
    match body.get("system") {
        Some(Value::Array(blocks)) => {
            for b in blocks {
                out.push((strip(b).to_string(), has_cc(b)));
            }
        }
        Some(Value::String(s)) => out.push((Value::String(s.clone()).to_string(), false)),
        _ => {}
    }
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").cloned().unwrap_or(Value::Null);
        match m.get("content") {
            Some(Value::Array(blocks)) => {
                for b in blocks {
                    out.push((
                        json!({"role": role, "block": strip(b)}).to_string(),
                        has_cc(b),
                    ));
                }
            }
            Some(c) => out.push((json!({"role": role, "block": c}).to_string(), false)),
            None => {}
        }
    }
    out
}

/// Measure a request for `model_key` (the service and the model the cache is keyed by).
pub(crate) fn measure(model_key: &str, body: &Value) -> Measured {
    let parts = parts(body);
    let chars = |ps: &[(String, bool)]| ps.iter().map(|(s, _)| s.chars().count()).sum::<usize>();
    let total_tokens = crate::rules::tokens_of(chars(&parts));
    let prefix = parts.iter().rposition(|(_, cc)| *cc).map(|last| {
        let prefix = parts.get(..=last).unwrap_or(&[]);
        let mut h = Sha256::new();
        h.update(model_key.as_bytes());
        for (s, _) in prefix {
            h.update([0u8]);
            h.update(s.as_bytes());
        }
        (crate::rules::tokens_of(chars(prefix)), h.finalize().into())
    });
    Measured {
        total_tokens,
        prefix,
    }
}

impl State {
    /// Account a request against the cache table: a new prefix is written, a known one read.
    pub(crate) fn cache_usage(&mut self, m: &Measured) -> InputUsage {
        let Some((tokens, hash)) = m.prefix else {
            return InputUsage {
                input_tokens: m.total_tokens,
                ..InputUsage::default()
            };
        };
        let input_tokens = m.total_tokens.saturating_sub(tokens);
        if self.prompt_cache.insert(hash) {
            InputUsage {
                input_tokens,
                cache_creation_input_tokens: tokens,
                cache_read_input_tokens: 0,
            }
        } else {
            InputUsage {
                input_tokens,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: tokens,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_at_the_last_breakpoint() {
        let body = json!({"system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hello there"}]});
        let m = measure("m", &body);
        let (tokens, _) = m.prefix.unwrap_or_default();
        assert!(tokens > 0 && tokens < m.total_tokens);
        assert!(measure("m", &json!({"messages": []})).prefix.is_none());
    }
}
