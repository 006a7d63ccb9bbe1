//! Serde helpers shared by the dialects' wire types (no vendor format lives here).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A field that is either a plain string or an array of items (content blocks or parts): both
/// Anthropic's and OpenAI's message content have this shape.
///
/// Deserialized with a visitor rather than `#[serde(untagged)]` so that an error inside an item
/// keeps its path and message instead of "did not match any variant".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TextOr<T> {
    Text(String),
    Items(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = TextOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(TextOr::Text(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(TextOr::Text(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(TextOr::Items(items))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_or_array_and_errors_keep_their_message() {
        let t: TextOr<u32> = serde_json::from_str("\"hi\"").unwrap();
        assert_eq!(t, TextOr::Text("hi".into()));
        let t: TextOr<u32> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(t, TextOr::Items(vec![1, 2]));
        let e = serde_json::from_str::<TextOr<u32>>("[1,\"x\"]").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<TextOr<u32>>("7").unwrap_err();
        assert!(e.to_string().contains("a string or an array"), "{e}");
    }
}
