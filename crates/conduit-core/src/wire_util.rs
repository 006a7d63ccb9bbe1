//! Serde helpers shared by the dialects' wire types (no vendor format lives here).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Parse a request body into wire type `T`. Errors are 400s that name the JSON path
/// (`messages.2.content.0: ...`); `what` names the body (`a Messages request`).
///
/// Plain serde first (no path tracking) for the bodies that parse, which is nearly all; only a
/// failed parse is redone with paths to word the error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = dotted(e.path());
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::invalid_request(format!("the request body is not valid JSON: {inner}"))
        } else if path.is_empty() {
            Error::invalid_request(format!("the request body is not {what}: {inner}"))
        } else {
            Error::invalid_request(format!("{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| Error::invalid_request(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// A serde path as the vendors spell it: `messages.3.content.0.source` (empty at the root).
pub fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let parts: Vec<String> = path
        .iter()
        .map(|seg| match seg {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_owned(),
        })
        .collect();
    parts.join(".")
}

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
