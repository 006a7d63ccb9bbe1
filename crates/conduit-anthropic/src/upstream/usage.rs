//! A Messages `usage` object as an upstream reports it (`message_start.message.usage`,
//! `message_delta.usage`, a non-streamed body's `usage`), folded into a canonical [`Usage`].
//!
//! `message_delta`'s usage is cumulative and may repeat or update the input and cache fields,
//! so every field takes its last reported value; events are never summed. The TTL split
//! (`cache_creation.{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}`) is kept exactly
//! as reported, field by field.

use conduit_core::{CacheCreation, Usage};
use serde::Deserialize;
use serde_json::Value;

/// Every field optional: an event carries what it carries. A count that is not a
/// non-negative integer is taken as absent; counts saturate at `u32::MAX`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WireUsage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    cache_read_input_tokens: Option<u32>,
    cache_creation_input_tokens: Option<u32>,
    ephemeral_5m_input_tokens: Option<u32>,
    ephemeral_1h_input_tokens: Option<u32>,
}

impl<'de> Deserialize<'de> for WireUsage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_value(&Value::deserialize(d)?).unwrap_or_default())
    }
}

impl WireUsage {
    /// The usage object `value` holds; `None` if it is not an object.
    pub fn from_value(value: &Value) -> Option<Self> {
        value.is_object().then(|| {
            let count = |v: &Value, k: &str| {
                v.get(k)
                    .and_then(Value::as_u64)
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            };
            let split = &value["cache_creation"];
            Self {
                input_tokens: count(value, "input_tokens"),
                output_tokens: count(value, "output_tokens"),
                cache_read_input_tokens: count(value, "cache_read_input_tokens"),
                cache_creation_input_tokens: count(value, "cache_creation_input_tokens"),
                ephemeral_5m_input_tokens: count(split, "ephemeral_5m_input_tokens"),
                ephemeral_1h_input_tokens: count(split, "ephemeral_1h_input_tokens"),
            }
        })
    }

    /// Writes every field this object reports over `usage` (the last value wins); whether it
    /// reported any.
    pub fn apply(&self, usage: &mut Usage) -> bool {
        let mut seen = false;
        let mut set = |slot: &mut u32, value: Option<u32>| {
            if let Some(n) = value {
                *slot = n;
                seen = true;
            }
        };
        set(&mut usage.input_tokens, self.input_tokens);
        set(&mut usage.output_tokens, self.output_tokens);
        set(
            &mut usage.cache_read_input_tokens,
            self.cache_read_input_tokens,
        );
        set(
            &mut usage.cache_creation_input_tokens,
            self.cache_creation_input_tokens,
        );
        if self.ephemeral_5m_input_tokens.is_some() || self.ephemeral_1h_input_tokens.is_some() {
            let split = usage
                .cache_creation
                .get_or_insert_with(CacheCreation::default);
            set(
                &mut split.ephemeral_5m_input_tokens,
                self.ephemeral_5m_input_tokens,
            );
            set(
                &mut split.ephemeral_1h_input_tokens,
                self.ephemeral_1h_input_tokens,
            );
        }
        seen
    }
}

/// The usage of a non-streamed Messages body (its top-level `usage`); `None` if it has none.
pub fn body_usage(body: &Value) -> Option<Usage> {
    let mut usage = Usage::default();
    WireUsage::from_value(&body["usage"])
        .filter(|w| w.apply(&mut usage))
        .map(|_| usage)
}
