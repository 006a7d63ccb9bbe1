//! The canonical request: what a client asked for, independent of its wire dialect.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One conversation turn request, as decoded from any client dialect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The model name exactly as the client sent it (e.g. `claude-opus-5-5`).
    pub model: String,
    /// System instructions, in order. Dialects fold system-role messages in here.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub max_tokens: Option<u32>,
    pub thinking: Thinking,
    /// How hard the client asked the model to work (Anthropic `output_config.effort`, OpenAI
    /// `reasoning_effort` / `reasoning.effort`), exactly as asked; `None` when it did not say.
    /// Independent of `thinking`: Anthropic lets a client set an effort with thinking off.
    #[serde(default)]
    pub effort: Option<Effort>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop_sequences: Vec<String>,
    pub stream: bool,
    pub meta: RequestMeta,
}

/// Facts about the caller that routing and logging may use; never sent upstream as-is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// A client session id (Claude Code's `X-Claude-Code-Session-Id`), for sticky routing.
    pub session_id: Option<String>,
    /// The client's end-user id (`metadata.user_id`), if any.
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![Block::Text(text.into())],
        }
    }

    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![Block::Text(text.into())],
        }
    }
}

/// Append `message`, merging it into the last one when the role repeats: the upstreams want
/// strict alternation, and every dialect folds consecutive same-role turns this way.
pub fn push_merged(messages: &mut Vec<Message>, message: Message) {
    match messages.last_mut() {
        Some(prev) if prev.role == message.role => prev.content.extend(message.content),
        _ => messages.push(message),
    }
}

/// A content block of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    #[serde(with = "text_field")]
    Text(String),
    Image(Image),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<ToolResultContent>,
        is_error: bool,
    },
    /// Model reasoning from an earlier turn, with the signature it came with (the upstream's
    /// own, or a gateway placeholder for reasoning the upstream did not sign).
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Reasoning the upstream handed over only in redacted (encrypted) form; `data` is opaque
    /// and goes back to the upstream unchanged.
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolResultContent {
    #[serde(with = "text_field")]
    Text(String),
    Image(Image),
}

/// Serde cannot put a bare string inside an internally tagged enum ("cannot serialize tagged
/// newtype variant ... containing a string"); this writes `Text(s)` as `{"type":"text","text":s}`
/// without changing the Rust shape.
mod text_field {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Text<T> {
        text: T,
    }

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        Text { text }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Text::<String>::deserialize(d)?.text)
    }
}

/// An inline image, base64 encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// IANA media type, e.g. `image/png`.
    pub media_type: String,
    /// Base64 data (standard alphabet, no data-URL prefix).
    pub data: String,
}

impl Image {
    /// The short format name (`png`, `jpeg`, `gif`, `webp`) from the media type.
    pub fn format(&self) -> &str {
        self.media_type
            .strip_prefix("image/")
            .unwrap_or(&self.media_type)
    }
}

/// A function tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the input object.
    pub input_schema: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto,
    Any,
    None,
    Tool { name: String },
}

/// Whether the client wants to see the model reason before answering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    #[default]
    Disabled,
    Enabled {
        budget_tokens: u32,
    },
    /// The model decides how much to think; [`Request::effort`] is the hint.
    Adaptive,
}

/// Effort levels, lowest first (the order is meaningful: a level an upstream does not offer is
/// replaced by the nearest one below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    Low,
    Medium,
    High,
    XHigh,
    Max,
}

impl Effort {
    pub const ALL: [Effort; 5] = [
        Effort::Low,
        Effort::Medium,
        Effort::High,
        Effort::XHigh,
        Effort::Max,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// Parses a level as Anthropic and OpenAI spell it (`minimal` is OpenAI's lowest, folded
    /// into `low`). `None` for anything else, including `none`.
    pub fn parse(level: &str) -> Option<Effort> {
        Some(match level {
            "minimal" | "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            "xhigh" => Effort::XHigh,
            "max" => Effort::Max,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_blocks_serialize_and_round_trip() {
        let message = Message {
            role: Role::User,
            content: vec![
                Block::Text("hi".into()),
                Block::ToolResult {
                    tool_use_id: "t".into(),
                    content: vec![ToolResultContent::Text("ok".into())],
                    is_error: false,
                },
            ],
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json["content"][0],
            serde_json::json!({"type": "text", "text": "hi"})
        );
        assert_eq!(
            json["content"][1]["content"][0],
            serde_json::json!({"type": "text", "text": "ok"})
        );
        assert_eq!(serde_json::from_value::<Message>(json).unwrap(), message);
    }
}
