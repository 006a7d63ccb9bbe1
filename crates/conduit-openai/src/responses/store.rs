//! A bounded in-memory store of finished conversations, so that a Responses request can name
//! its predecessor with `previous_response_id` instead of resending the history.
//!
//! Bounded three ways: entry count, age (TTL) and approximate bytes; the oldest entries go
//! first. The lock is a `std::sync::Mutex` held only for map operations, never across an
//! `.await`; stored conversations are behind `Arc`, so a lookup copies a pointer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use conduit_core::{Block, Message, ToolResultContent};

/// The canonical conversation up to and including a response's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// System texts that came from `system`/`developer` input messages. (`instructions` are not
    /// carried over to the next response, as in OpenAI's API.)
    pub system: Vec<String>,
    pub messages: Vec<Message>,
}

impl Conversation {
    /// Rough size in bytes (text, JSON and image data), for the store's byte budget.
    pub fn approx_bytes(&self) -> usize {
        let blocks: usize = self
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .map(block_bytes)
            .sum();
        self.system.iter().map(String::len).sum::<usize>() + blocks
    }
}

fn block_bytes(b: &Block) -> usize {
    const OVERHEAD: usize = 64;
    OVERHEAD
        + match b {
            Block::Text(t) => t.len(),
            Block::Image(i) => i.data.len(),
            Block::ToolUse { id, name, input } => id.len() + name.len() + input.to_string().len(),
            Block::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                tool_use_id.len()
                    + content
                        .iter()
                        .map(|c| match c {
                            ToolResultContent::Text(t) => t.len(),
                            ToolResultContent::Image(i) => i.data.len(),
                        })
                        .sum::<usize>()
            }
            Block::Thinking { text, signature } => {
                text.len() + signature.as_ref().map_or(0, String::len)
            }
            Block::RedactedThinking { data } => data.len(),
        }
}

/// Limits of a [`ResponseStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_entries: usize,
    pub ttl: Duration,
    pub max_bytes: usize,
}

impl Default for StoreLimits {
    /// 1,000 conversations, one hour, 256 MiB.
    fn default() -> Self {
        Self {
            max_entries: 1_000,
            ttl: Duration::from_secs(60 * 60),
            max_bytes: 256 << 20,
        }
    }
}

struct Entry {
    conversation: Arc<Conversation>,
    bytes: usize,
    stored_at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Response ids, oldest first. May hold ids already removed (replaced); skipped on eviction.
    order: VecDeque<(String, Instant)>,
    bytes: usize,
}

/// Conversations by response id (`resp_...`). Thread-safe; share it as `Arc<ResponseStore>`.
pub struct ResponseStore {
    limits: StoreLimits,
    inner: Mutex<Inner>,
}

impl Default for ResponseStore {
    fn default() -> Self {
        Self::new(StoreLimits::default())
    }
}

impl std::fmt::Debug for ResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStore")
            .field("limits", &self.limits)
            .field("len", &self.len())
            .finish()
    }
}

impl ResponseStore {
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The conversation stored under `response_id`, if it is there and not expired.
    pub fn get(&self, response_id: &str) -> Option<Arc<Conversation>> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        inner
            .entries
            .get(response_id)
            .map(|e| Arc::clone(&e.conversation))
    }

    /// Store `conversation` under `response_id`, evicting the oldest entries to stay in bounds.
    /// A conversation larger than the whole byte budget is not stored.
    pub fn put(&self, response_id: impl Into<String>, conversation: Conversation) {
        self.put_at(response_id.into(), conversation, Instant::now());
    }

    fn put_at(&self, id: String, conversation: Conversation, now: Instant) {
        let bytes = conversation.approx_bytes();
        if bytes > self.limits.max_bytes || self.limits.max_entries == 0 {
            return;
        }
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        if let Some(old) = inner.entries.remove(&id) {
            inner.bytes -= old.bytes;
        }
        while inner.entries.len() >= self.limits.max_entries
            || inner.bytes + bytes > self.limits.max_bytes
        {
            if !evict_oldest(&mut inner) {
                break;
            }
        }
        inner.bytes += bytes;
        inner.order.push_back((id.clone(), now));
        inner.entries.insert(
            id,
            Entry {
                conversation: Arc::new(conversation),
                bytes,
                stored_at: now,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A poisoned lock only means another thread panicked mid-operation; the map is still
    /// consistent enough for a cache, so keep serving.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        while let Some((_, at)) = inner.order.front() {
            if now.saturating_duration_since(*at) < self.limits.ttl {
                break;
            }
            evict_oldest(inner);
        }
    }
}

/// Remove the oldest live entry; false if there is none.
fn evict_oldest(inner: &mut Inner) -> bool {
    while let Some((id, at)) = inner.order.pop_front() {
        // Skip queue records of entries that were replaced by a later `put` of the same id.
        let live = inner.entries.get(&id).is_some_and(|e| e.stored_at == at);
        if live {
            if let Some(e) = inner.entries.remove(&id) {
                inner.bytes -= e.bytes;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(text: &str) -> Conversation {
        Conversation {
            system: vec![],
            messages: vec![Message::user_text(text)],
        }
    }

    #[test]
    fn evicts_oldest_beyond_max_entries() {
        let store = ResponseStore::new(StoreLimits {
            max_entries: 2,
            ..StoreLimits::default()
        });
        store.put("a", conv("1"));
        store.put("b", conv("2"));
        store.put("c", conv("3"));
        assert!(store.get("a").is_none());
        assert_eq!(store.get("c").unwrap().messages, conv("3").messages);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn expires_after_ttl() {
        let store = ResponseStore::new(StoreLimits {
            ttl: Duration::from_secs(10),
            ..StoreLimits::default()
        });
        let t0 = Instant::now();
        store.put_at("a".into(), conv("1"), t0);
        store.put_at("b".into(), conv("2"), t0 + Duration::from_secs(5));
        let mut inner = store.lock();
        store.expire(&mut inner, t0 + Duration::from_secs(11));
        assert!(!inner.entries.contains_key("a"));
        assert!(inner.entries.contains_key("b"));
    }

    #[test]
    fn respects_byte_budget_and_replacement() {
        let store = ResponseStore::new(StoreLimits {
            max_bytes: 200,
            ..StoreLimits::default()
        });
        store.put("a", conv(&"x".repeat(100)));
        store.put("a", conv(&"y".repeat(100)));
        assert_eq!(store.len(), 1);
        store.put("b", conv(&"z".repeat(100)));
        assert!(store.get("a").is_none(), "evicted to make room for b");
        assert!(store.get("b").is_some());
        store.put("huge", conv(&"h".repeat(1000)));
        assert!(store.get("huge").is_none());
        assert!(store.get("b").is_some());
    }
}
