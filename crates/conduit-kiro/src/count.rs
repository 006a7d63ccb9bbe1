//! Input tokens of an encoded Kiro request: what the model will read once the conversion has
//! placed the system prompt, tool documentation, thinking tags and placeholders. Both the
//! pre-send estimate and `count_tokens` use it, so Claude Code sizes compaction on the prompt
//! the upstream really gets (spec §9.8).
//!
//! The body is walked as JSON (its encoded text, as it streams past) so that fields added to
//! the wire types are counted without changes here: every string counts, except ids, enums
//! and signatures; tool schemas and tool inputs count as their JSON text; each image counts as
//! [`IMAGE_TOKENS`].

use conduit_core::tokens::{raw_count, CLAUDE_FACTOR, IMAGE_TOKENS};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::wire::GenerateAssistantResponseRequest;

/// Framing per history message.
const MESSAGE_OVERHEAD: u64 = 4;
/// Framing per tool specification.
const TOOL_OVERHEAD: u64 = 12;

/// Members whose strings are not text the model reads.
const SKIPPED: &[&str] = &[
    "modelId",
    "origin",
    "conversationId",
    "chatTriggerType",
    "toolUseId",
    "status",
    "profileArn",
    "format",
    "signature",
    "redactedContent",
    "agentContinuationId",
    "agentTaskType",
];

/// Claude-scaled input tokens of `body`.
pub fn body_tokens(body: &GenerateAssistantResponseRequest) -> u32 {
    serde_json::to_vec(body).map_or(0, |json| json_tokens(&json))
}

/// Claude-scaled input tokens of an encoded body, read from its JSON text as it streams past:
/// no tree of values is built, and strings without escapes are counted where they lie.
pub fn json_tokens(json: &[u8]) -> u32 {
    let mut count = Count::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    if Walk(&mut count).deserialize(&mut de).is_err() {
        return 0;
    }
    let scaled = (count.raw as f64 * CLAUDE_FACTOR).ceil() as u64;
    u32::try_from(scaled + count.fixed).unwrap_or(u32::MAX)
}

#[derive(Default)]
struct Count {
    raw: u64,
    fixed: u64,
}

/// What a member's value counts as, by the member's name.
enum Member {
    Skipped,
    Images,
    /// Counted as its JSON text (tool schemas and tool inputs).
    JsonText,
    /// A history message or tool specification: its framing, then its contents.
    Framed(u64),
    Walked,
}

impl Member {
    fn of(key: &str) -> Self {
        match key {
            k if SKIPPED.contains(&k) => Member::Skipped,
            "images" => Member::Images,
            "json" | "input" => Member::JsonText,
            "userInputMessage" | "assistantResponseMessage" => Member::Framed(MESSAGE_OVERHEAD),
            "toolSpecification" => Member::Framed(TOOL_OVERHEAD),
            _ => Member::Walked,
        }
    }
}

/// Walks any JSON value, adding every string to the count.
struct Walk<'c>(&'c mut Count);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.raw += u64::from(raw_count(s));
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key_seed(MemberName)? {
            match member {
                Member::Skipped => {
                    map.next_value::<IgnoredAny>()?;
                }
                Member::Images => {
                    let n = map
                        .next_value::<Option<Vec<IgnoredAny>>>()?
                        .map_or(0, |v| v.len());
                    self.0.fixed += n as u64 * u64::from(IMAGE_TOKENS);
                }
                Member::JsonText => {
                    let text = map.next_value::<&RawValue>()?;
                    self.0.raw += u64::from(raw_count(text.get()));
                }
                Member::Framed(overhead) => {
                    self.0.fixed += overhead;
                    map.next_value_seed(Walk(&mut *self.0))?;
                }
                Member::Walked => map.next_value_seed(Walk(&mut *self.0))?,
            }
        }
        Ok(())
    }
}

/// A member's name, read as [`Member`] without allocating it.
struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Member;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for MemberName {
    type Value = Member;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, key: &str) -> Result<Member, E> {
        Ok(Member::of(key))
    }
}

#[cfg(test)]
mod tests {
    use conduit_core::{Message, Request};
    use serde_json::Value;

    use super::*;
    use crate::convert::{encode_request, EncodeOptions};

    /// The count as it was first written: the body turned into a tree of values and walked.
    /// [`json_tokens`] must agree with it on every body.
    fn tree_tokens(body: &GenerateAssistantResponseRequest) -> u32 {
        fn walk(count: &mut Count, value: &Value) {
            match value {
                Value::String(s) => count.raw += u64::from(raw_count(s)),
                Value::Array(items) => items.iter().for_each(|v| walk(count, v)),
                Value::Object(map) => {
                    for (key, v) in map {
                        match key.as_str() {
                            k if SKIPPED.contains(&k) => {}
                            "images" => {
                                let n = v.as_array().map_or(0, Vec::len) as u64;
                                count.fixed += n * u64::from(IMAGE_TOKENS);
                            }
                            "json" | "input" => count.raw += u64::from(raw_count(&v.to_string())),
                            "userInputMessage" | "assistantResponseMessage" => {
                                count.fixed += MESSAGE_OVERHEAD;
                                walk(count, v);
                            }
                            "toolSpecification" => {
                                count.fixed += TOOL_OVERHEAD;
                                walk(count, v);
                            }
                            _ => walk(count, v),
                        }
                    }
                }
                _ => {}
            }
        }
        let mut count = Count::default();
        walk(&mut count, &serde_json::to_value(body).unwrap());
        let scaled = (count.raw as f64 * CLAUDE_FACTOR).ceil() as u64;
        u32::try_from(scaled + count.fixed).unwrap()
    }

    /// Every converter fixture: the streamed count equals the tree walk's.
    #[test]
    fn streamed_count_equals_the_tree_walk_on_every_fixture() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convert");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let fixture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut request = serde_json::to_value(Request::default()).unwrap();
            for (k, v) in fixture["request"].as_object().unwrap() {
                request[k] = v.clone();
            }
            let request: Request = serde_json::from_value(request).unwrap();
            let Ok(body) = encode_request(&request, &EncodeOptions::default()) else {
                continue;
            };
            assert_eq!(body_tokens(&body), tree_tokens(&body), "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} fixtures encoded");
    }

    /// The system prompt and tool documentation the conversion adds are counted; ids are not.
    #[test]
    fn counts_what_the_conversion_adds() {
        let plain = Request {
            model: "claude-sonnet-4-5".into(),
            messages: vec![Message::user_text("hello there")],
            ..Request::default()
        };
        let with_system = Request {
            system: vec!["You are a careful assistant. ".repeat(50)],
            ..plain.clone()
        };
        let opts = EncodeOptions::default();
        let a = body_tokens(&encode_request(&plain, &opts).unwrap());
        let b = body_tokens(&encode_request(&with_system, &opts).unwrap());
        assert!(a < 20, "{a}");
        assert!(b > a + 250, "{a} {b}");
        let other_id = EncodeOptions {
            conversation_id: "x".repeat(200),
            ..EncodeOptions::default()
        };
        assert_eq!(body_tokens(&encode_request(&plain, &other_id).unwrap()), a);
    }
}
