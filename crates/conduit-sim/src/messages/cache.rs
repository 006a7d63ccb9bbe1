//! Prompt-cache accounting as Anthropic documents it: the counted parts of a request (tools,
//! system blocks, message blocks) in that order, its breakpoints (blocks with `cache_control`,
//! each with its TTL, `"5m"` unless `"ttl": "1h"`), and the table of prefixes written so far.
//!
//! A request reads the longest prefix already in the table that ends within [`LOOKBACK`]
//! blocks before one of its breakpoints (position A); it writes, at 1h, the tokens from A to its
//! last 1h breakpoint after A (position B, else A), and at 5m those from B to its last
//! breakpoint (C). Every breakpoint after A enters the table. Entries never expire here.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::state::State;

/// How many blocks before a breakpoint a cache hit is looked for (Anthropic: "about 20").
pub(crate) const LOOKBACK: usize = 20;

/// The lifetime of a cache write (`cache_control.ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    FiveMinutes,
    OneHour,
}

/// Input-side usage of one request; `cache_creation_input_tokens` is the sum of the two
/// per-TTL write counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InputUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

impl InputUsage {
    /// The `usage` object as the real APIs write it (`cache_creation` always present).
    pub(crate) fn json(&self, output_tokens: u64) -> Value {
        json!({"input_tokens": self.input_tokens,
               "cache_creation_input_tokens": self.cache_creation_input_tokens,
               "cache_read_input_tokens": self.cache_read_input_tokens,
               "cache_creation": {
                   "ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                   "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens},
               "output_tokens": output_tokens})
    }
}

/// The prompt up to and including one counted part.
#[derive(Debug, Clone)]
struct Prefix {
    tokens: u64,
    hash: [u8; 32],
    /// The part's breakpoint, if it carries one.
    breakpoint: Option<Ttl>,
}

/// The measured request: all its counted parts, and its prefixes up to the last breakpoint
/// (none without a breakpoint).
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub total_tokens: u64,
    prefixes: Vec<Prefix>,
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

fn ttl_of(cc: &Value) -> Option<Ttl> {
    match cc {
        Value::Null => None,
        cc if cc.get("ttl").and_then(Value::as_str) == Some("1h") => Some(Ttl::OneHour),
        _ => Some(Ttl::FiveMinutes),
    }
}

/// The breakpoint a block carries: its own `cache_control`, else the last on a block nested in
/// its `content` (a `tool_result`'s).
fn breakpoint(v: &Value) -> Option<Ttl> {
    v.get("cache_control").and_then(ttl_of).or_else(|| {
        v.get("content")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().rev().find_map(breakpoint))
    })
}

/// The counted parts in prompt order (tools, system, message blocks), each with its
/// breakpoint.
fn parts(body: &Value) -> Vec<(String, Option<Ttl>)> {
    let mut out = Vec::new();
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push((strip(t).to_string(), breakpoint(t)));
    }
    match body.get("system") {
        Some(Value::Array(blocks)) => {
            for b in blocks {
                out.push((strip(b).to_string(), breakpoint(b)));
            }
        }
        Some(Value::String(s)) => out.push((Value::String(s.clone()).to_string(), None)),
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
                        breakpoint(b),
                    ));
                }
            }
            Some(c) => out.push((json!({"role": role, "block": c}).to_string(), None)),
            None => {}
        }
    }
    out
}

/// Measure a request for `model_key` (the service and the model the cache is keyed by).
pub(crate) fn measure(model_key: &str, body: &Value) -> Measured {
    let parts = parts(body);
    let total_chars: usize = parts.iter().map(|(s, _)| s.chars().count()).sum();
    let last = parts.iter().rposition(|(_, bp)| bp.is_some());
    let mut h = Sha256::new();
    h.update(model_key.as_bytes());
    let mut chars = 0;
    let prefixes = parts
        .iter()
        .take(last.map_or(0, |l| l + 1))
        .map(|(s, bp)| {
            h.update([0u8]);
            h.update(s.as_bytes());
            chars += s.chars().count();
            Prefix {
                tokens: crate::rules::tokens_of(chars),
                hash: h.clone().finalize().into(),
                breakpoint: *bp,
            }
        })
        .collect();
    Measured {
        total_tokens: crate::rules::tokens_of(total_chars),
        prefixes,
    }
}

impl State {
    /// Account a request against the cache table (see the module docs): the longest known
    /// prefix is read, the rest up to the last breakpoint written at its TTL.
    pub(crate) fn cache_usage(&mut self, m: &Measured) -> InputUsage {
        let Some(end) = m.prefixes.last().map(|p| p.tokens) else {
            return InputUsage {
                input_tokens: m.total_tokens,
                ..InputUsage::default()
            };
        };
        let breakpoints: Vec<usize> = (0..m.prefixes.len())
            .filter(|&i| m.prefixes[i].breakpoint.is_some())
            .collect();
        let hit = (0..m.prefixes.len()).rev().find(|&i| {
            breakpoints.iter().any(|&b| b >= i && b - i <= LOOKBACK)
                && self.prompt_cache.contains(&m.prefixes[i].hash)
        });
        let read = hit.map_or(0, |i| m.prefixes[i].tokens);
        let new: Vec<usize> = breakpoints
            .into_iter()
            .filter(|&b| hit.is_none_or(|h| b > h))
            .collect();
        let one_hour_end = new
            .iter()
            .rev()
            .find(|&&b| m.prefixes[b].breakpoint == Some(Ttl::OneHour))
            .map_or(read, |&b| m.prefixes[b].tokens);
        for &b in &new {
            self.prompt_cache.insert(m.prefixes[b].hash);
        }
        let w1h = one_hour_end.saturating_sub(read);
        let w5m = end.saturating_sub(one_hour_end.max(read));
        InputUsage {
            input_tokens: m.total_tokens.saturating_sub(end),
            cache_creation_input_tokens: w5m + w1h,
            cache_read_input_tokens: read,
            ephemeral_5m_input_tokens: w5m,
            ephemeral_1h_input_tokens: w1h,
        }
    }
}

fn indexed(v: Option<&Value>) -> Vec<&Value> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The `cache_control.ttl` rules of the real API, over tools, system blocks and message blocks
/// (and blocks nested in a `tool_result`) in that order: only `"5m"` or `"1h"`, and no 1h
/// breakpoint after a 5m one. The message of the first failure, path included.
pub(crate) fn check_ttls(body: &Value) -> Result<(), String> {
    let mut blocks: Vec<(String, &Value)> = Vec::new();
    for (i, t) in indexed(body.get("tools")).into_iter().enumerate() {
        blocks.push((format!("tools.{i}"), t));
    }
    for (i, b) in indexed(body.get("system")).into_iter().enumerate() {
        blocks.push((format!("system.{i}"), b));
    }
    for (i, m) in indexed(body.get("messages")).into_iter().enumerate() {
        for (j, b) in indexed(m.get("content")).into_iter().enumerate() {
            let path = format!("messages.{i}.content.{j}");
            for (k, n) in indexed(b.get("content")).into_iter().enumerate() {
                blocks.push((format!("{path}.content.{k}"), n));
            }
            blocks.push((path, b));
        }
    }
    let mut five_minutes = false;
    for (path, block) in blocks {
        let Some(cc) = block.get("cache_control").filter(|c| !c.is_null()) else {
            continue;
        };
        match cc.get("ttl") {
            None | Some(Value::Null) => five_minutes = true,
            Some(Value::String(t)) if t == "5m" => five_minutes = true,
            Some(Value::String(t)) if t == "1h" => {
                if five_minutes {
                    return Err(format!("{path}.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."));
                }
            }
            Some(_) => {
                return Err(format!(
                    "{path}.cache_control.ttl: Input should be '5m' or '1h'"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str, cc: Option<&str>) -> Value {
        let mut b = json!({"type": "text", "text": t});
        if let Some(ttl) = cc {
            b["cache_control"] = match ttl {
                "" => json!({"type": "ephemeral"}),
                ttl => json!({"type": "ephemeral", "ttl": ttl}),
            };
        }
        b
    }

    fn user(blocks: Vec<Value>) -> Value {
        json!({"role": "user", "content": blocks})
    }

    /// Tokens of the prompt up to and including message block `upto` (system first).
    fn tokens_through(body: &Value, upto: usize) -> u64 {
        let mut b = body.clone();
        let blocks = b["messages"][0]["content"].as_array_mut().unwrap();
        blocks.truncate(upto + 1);
        blocks.last_mut().unwrap()["cache_control"] = json!({"type": "ephemeral"});
        measure("m", &b).prefixes.last().unwrap().tokens
    }

    #[test]
    fn prefixes_end_at_the_last_breakpoint() {
        let body = json!({"system": [text("sys", Some(""))],
            "messages": [{"role": "user", "content": "hello there"}]});
        let m = measure("m", &body);
        let tokens = m.prefixes.last().unwrap().tokens;
        assert!(tokens > 0 && tokens < m.total_tokens);
        assert!(measure("m", &json!({"messages": []})).prefixes.is_empty());
    }

    /// Each case runs its requests in order against one table; the last one's usage is checked.
    #[test]
    fn reads_and_writes_per_ttl() {
        let sys = "You are a careful assistant. ".repeat(20);
        let a = "first part of the document ".repeat(30);
        let b = "second part of the document ".repeat(30);
        let tail = "and now the question";
        // The earlier prefix: system + A, cached (5m) at A.
        let earlier = json!({"system": [text(&sys, None)],
            "messages": [user(vec![text(&a, Some("")), text(tail, None)])]});
        // The same prompt grown: A no longer marked, B cached for 1h, the tail for 5m.
        let mixed = json!({"system": [text(&sys, None)],
            "messages": [user(vec![text(&a, None), text(&b, Some("1h")), text(tail, Some("5m")),
                                   text("?", None)])]});
        let ta = tokens_through(&mixed, 0);
        let tb = tokens_through(&mixed, 1);
        let tc = tokens_through(&mixed, 2);
        let total = measure("m", &mixed).total_tokens;
        // 25 unmarked blocks between the cached prefix and the next breakpoint.
        let mut far = vec![text(&a, None)];
        far.extend((0..25).map(|i| text(&format!("filler {i}"), None)));
        far.push(text(tail, Some("")));
        let far = json!({"system": [text(&sys, None)], "messages": [user(far)]});
        let u = |input, w5, w1, read| InputUsage {
            input_tokens: input,
            cache_creation_input_tokens: w5 + w1,
            cache_read_input_tokens: read,
            ephemeral_5m_input_tokens: w5,
            ephemeral_1h_input_tokens: w1,
        };
        let m_total = measure("m", &earlier).total_tokens;
        let cases: Vec<(&str, Vec<Value>, InputUsage)> = vec![
            (
                "no breakpoint",
                vec![json!({"messages": [user(vec![text(tail, None)])]})],
                u(
                    measure("m", &json!({"messages": [user(vec![text(tail, None)])]})).total_tokens,
                    0,
                    0,
                    0,
                ),
            ),
            (
                "first write, 5m",
                vec![earlier.clone()],
                u(m_total - ta, ta, 0, 0),
            ),
            (
                "the same again reads",
                vec![earlier.clone(), earlier.clone()],
                u(m_total - ta, 0, 0, ta),
            ),
            (
                "1h and 5m writes after an earlier cached prefix",
                vec![earlier.clone(), mixed.clone()],
                u(total - tc, tc - tb, tb - ta, ta),
            ),
            (
                "all 1h, nothing cached",
                vec![mixed.clone()],
                u(total - tc, tc - tb, tb, 0),
            ),
            (
                "a hit further back than the lookback is missed",
                vec![earlier.clone(), far.clone()],
                {
                    let m = measure("m", &far);
                    let end = m.prefixes.last().unwrap().tokens;
                    u(m.total_tokens - end, end, 0, 0)
                },
            ),
        ];
        for (name, requests, want) in cases {
            let mut state = State::new(crate::config::SimConfig::default());
            let mut got = InputUsage::default();
            for r in &requests {
                got = state.cache_usage(&measure("m", r));
            }
            assert_eq!(got, want, "{name}");
            assert_eq!(
                got.input_tokens + got.cache_creation_input_tokens + got.cache_read_input_tokens,
                measure("m", requests.last().unwrap()).total_tokens,
                "{name}: the three input counters add up to the prompt"
            );
        }
    }

    #[test]
    fn ttl_rules() {
        let tool_result = |cc: Value| {
            json!({"role": "user", "content": [{"type": "tool_result",
            "tool_use_id": "t", "content": [{"type": "text", "text": "r", "cache_control": cc}]}]})
        };
        let one_h = json!({"type": "ephemeral", "ttl": "1h"});
        let five_m = json!({"type": "ephemeral"});
        let cases = [
            (json!({"system": [text("s", Some("1h"))], "messages": [user(vec![text("x", Some("5m"))])]}), None),
            (json!({"system": [text("s", Some("1h"))], "messages": [user(vec![text("x", Some(""))])]}), None),
            (json!({"tools": [{"name": "t", "cache_control": one_h}], "system": [text("s", Some("1h"))]}), None),
            (
                json!({"system": [text("s", Some("10m"))]}),
                Some("system.0.cache_control.ttl: Input should be '5m' or '1h'"),
            ),
            (
                json!({"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": 3600}}]}),
                Some("system.0.cache_control.ttl: Input should be '5m' or '1h'"),
            ),
            (
                json!({"tools": [{"name": "t", "cache_control": five_m}], "system": [text("s", Some("1h"))]}),
                Some("system.0.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."),
            ),
            (
                json!({"system": [text("s", Some(""))], "messages": [user(vec![text("x", None)]), tool_result(one_h)]}),
                Some("messages.1.content.0.content.0.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(check_ttls(&body).err().as_deref(), want, "{body}");
        }
    }
}
