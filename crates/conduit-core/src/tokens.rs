//! Token counting with a real BPE tokenizer, biased to count high rather than low.
//!
//! Claude's tokenizer is not public; `cl100k_base` undercounts Claude by roughly 10–20 %, so
//! counts are scaled up by [`CLAUDE_FACTOR`]. Counting high makes clients compact before the
//! upstream overflows. The tokenizer is loaded lazily, on first use, to keep idle memory low.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock};

use tiktoken_rs::CoreBPE;

use crate::{Block, Request, ToolResultContent};

/// Correction from cl100k counts to Claude counts (errs high).
pub const CLAUDE_FACTOR: f64 = 1.2;
/// Flat cost of an image; Anthropic charges about (w*h)/750, capped near 1,600 for the sizes
/// clients send. We do not decode images, so take the cap.
pub const IMAGE_TOKENS: u32 = 1_600;
/// Per-message framing overhead.
const MESSAGE_OVERHEAD: u32 = 4;
/// Per-tool framing overhead (name, wrapper JSON).
const TOOL_OVERHEAD: u32 = 12;

fn bpe() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()).as_ref()
}

/// Bound on the memo; it is cleared when full (cheap, and the hot set refills in one turn).
/// An entry is 12 bytes plus the table's overhead: under 0.5 MB when full.
const MEMO_MAX_ENTRIES: usize = 16_384;

/// The memo's keys are already 64-bit hashes (XXH3 of the text): the table uses them as they
/// are instead of hashing them again.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Memo = HashMap<u64, u32, BuildHasherDefault<KeyIsHash>>;

fn memo() -> &'static Mutex<Memo> {
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(Memo::default()))
}

/// Raw cl100k token count of `text` (a byte-based estimate if the tokenizer failed to load).
///
/// Every text is memoised by its XXH3 hash: agents resend the same system prompt, tools and
/// history every turn, so each is tokenized once, not once per request. Short texts too (tool
/// names, short turns): the BPE's regex costs far more than a hash and a table lookup.
pub fn raw_count(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let key = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
    if let Some(n) = memo().lock().ok().and_then(|m| m.get(&key).copied()) {
        return n;
    }
    let n = tokenize_count(text);
    if let Ok(mut m) = memo().lock() {
        if m.len() >= MEMO_MAX_ENTRIES {
            m.clear();
        }
        m.insert(key, n);
    }
    n
}

fn tokenize_count(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    match bpe() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u32,
        None => (text.len() as u32).div_ceil(3),
    }
}

/// Claude-scaled count of `text`.
pub fn count_text(text: &str) -> u32 {
    scale(raw_count(text))
}

fn scale(raw: u32) -> u32 {
    (raw as f64 * CLAUDE_FACTOR).ceil() as u32
}

/// Input tokens of a whole request: system, tools, every message block, images.
pub fn count_request(request: &Request) -> u32 {
    let mut raw = 0u32;
    let mut fixed = 0u32;
    for s in &request.system {
        raw += raw_count(s);
    }
    for tool in &request.tools {
        raw += raw_count(&tool.name) + raw_count(&tool.description);
        raw += raw_count(&tool.input_schema.to_string());
        fixed += TOOL_OVERHEAD;
    }
    for message in &request.messages {
        fixed += MESSAGE_OVERHEAD;
        for block in &message.content {
            match block {
                Block::Text(t) => raw += raw_count(t),
                Block::Image(_) => fixed += IMAGE_TOKENS,
                Block::ToolUse { name, input, .. } => {
                    raw += raw_count(name) + raw_count(&input.to_string());
                    fixed += TOOL_OVERHEAD;
                }
                Block::ToolResult { content, .. } => {
                    fixed += TOOL_OVERHEAD;
                    for c in content {
                        match c {
                            ToolResultContent::Text(t) => raw += raw_count(t),
                            ToolResultContent::Image(_) => fixed += IMAGE_TOKENS,
                        }
                    }
                }
                Block::Thinking { text, .. } => raw += raw_count(text),
                Block::RedactedThinking { .. } => fixed += 100,
            }
        }
    }
    scale(raw) + fixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Tool};

    #[test]
    fn counts_grow_with_every_part() {
        let base = Request {
            messages: vec![Message::user_text("hello world")],
            ..Default::default()
        };
        let n0 = count_request(&base);
        assert!(n0 > 0);

        let mut with_system = base.clone();
        with_system
            .system
            .push("You are a careful assistant.".into());
        assert!(count_request(&with_system) > n0);

        let mut with_tool = base.clone();
        with_tool.tools.push(Tool {
            name: "Write".into(),
            description: "Write a file".into(),
            input_schema: serde_json::json!({"type":"object"}),
        });
        assert!(count_request(&with_tool) > n0);
    }

    #[test]
    fn memoised_counts_equal_fresh_counts() {
        let long = "Some long history text that agents resend on every turn. ".repeat(20);
        for text in [long.as_str(), "Read", "a short turn", "日本語のテキスト"] {
            let fresh = tokenize_count(text);
            assert_eq!(raw_count(text), fresh, "{text}");
            assert_eq!(
                raw_count(text),
                fresh,
                "{text}: second call served from the memo"
            );
        }
        let other = format!("{long}and three more sentences. One. Two.");
        assert!(
            raw_count(&other) > raw_count(&long),
            "a longer text is not served its prefix's count"
        );
        assert_eq!(raw_count(""), 0);
    }

    #[test]
    fn errs_high_against_raw_tokenizer() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
        assert!(count_text(&text) > raw_count(&text));
    }
}
