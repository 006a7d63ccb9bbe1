//! Serde types for Anthropic's Messages API, named as in Anthropic's reference.
//!
//! Request types are tolerant: unknown fields (`cache_control`, `context_management`,
//! `citations`, beta fields Claude Code adds every release) are ignored, and fields Anthropic
//! requires are `Option` here so that [`crate::decode`] can reject their absence with
//! Anthropic's own wording (`max_tokens: Field required`). Response and stream types serialize in
//! the key order Anthropic uses.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The body of `POST /v1/messages` (and, without `max_tokens`, of `/v1/messages/count_tokens`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessagesRequest {
    pub model: Option<String>,
    pub messages: Option<Vec<Message>>,
    pub system: Option<SystemPrompt>,
    pub max_tokens: Option<u32>,
    pub tools: Option<Vec<Tool>>,
    pub tool_choice: Option<ToolChoice>,
    pub thinking: Option<Thinking>,
    pub output_config: Option<OutputConfig>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub stop_sequences: Option<Vec<String>>,
    pub stream: Option<bool>,
    pub metadata: Option<Metadata>,
    // Everything else (`context_management`, `service_tier`, ...) is ignored rather than kept
    // in a `#[serde(flatten)]` map: flatten buffers the whole body and loses error paths.
}

/// `metadata`. Claude Code 2.1.3xx sends `user_id` as a JSON *string*
/// (`{"device_id":…,"account_uuid":…,"session_id":…}`), older versions as
/// `user_<hash>_account_<uuid>_session_<uuid>`; anything else JSON is tolerated too.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    pub user_id: Option<Value>,
}

/// `output_config` (effort beta). `effort` stays a string so that new levels are not fatal;
/// `task_budget` (advisory, `{"type":"tokens","total":N}`) and the structured-output `format`
/// are tolerated and not forwarded (Kiro has no such fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OutputConfig {
    pub effort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// Not in Anthropic's public schema, but Claude Code 2.1.x sends it mid-conversation.
    System,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: MessageContent,
}

/// A field that is either a plain string or an array of content blocks.
pub use conduit_core::wire_util::TextOr as TextOrBlocks;

pub type MessageContent = TextOrBlocks<ContentBlock>;
/// `system`: a string, or an array of text blocks (with `cache_control`, ignored).
pub type SystemPrompt = TextOrBlocks<ContentBlock>;
/// `tool_result.content`: a string, or an array of text and image blocks.
pub type ToolResultContent = TextOrBlocks<ContentBlock>;

/// A content block, in requests and responses.
///
/// Deserialization dispatches on `type` by hand so that an unknown type is kept (as
/// [`ContentBlock::Other`]) for [`crate::decode`] to reject with a clear message, while a known
/// type with a bad field still reports which field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinkingBlock),
    Document(DocumentBlock),
    /// Any other block type (`server_tool_use`, `web_search_tool_result`, `search_result`, ...),
    /// kept whole.
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub source: ImageSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    File {
        file_id: String,
    },
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ToolResultContent>,
    #[serde(default)]
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    pub thinking: String,
    /// Anthropic always sends one; clients that never received one send none back.
    #[serde(default)]
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    #[serde(default)]
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    pub source: DocumentSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentSource {
    Text {
        #[serde(default)]
        media_type: Option<String>,
        data: String,
    },
    Content {
        content: TextOrBlocks<ContentBlock>,
    },
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    File {
        file_id: String,
    },
    #[serde(other)]
    Unsupported,
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let Some(ty) = raw.get("type").and_then(Value::as_str).map(str::to_owned) else {
            return Err(de::Error::custom("content block: `type` is required"));
        };
        fn typed<T: DeserializeOwned, E: de::Error>(ty: &str, raw: Value) -> Result<T, E> {
            serde_path_to_error::deserialize(raw).map_err(|e| {
                let path = conduit_core::wire_util::dotted(e.path());
                if path.is_empty() {
                    E::custom(format_args!("{ty} block: {}", e.inner()))
                } else {
                    E::custom(format_args!("{ty} block, field {path}: {}", e.inner()))
                }
            })
        }
        Ok(match ty.as_str() {
            "text" => Self::Text(typed(&ty, raw)?),
            "image" => Self::Image(typed(&ty, raw)?),
            "tool_use" => Self::ToolUse(typed(&ty, raw)?),
            "tool_result" => Self::ToolResult(typed(&ty, raw)?),
            "thinking" => Self::Thinking(typed(&ty, raw)?),
            "redacted_thinking" => Self::RedactedThinking(typed(&ty, raw)?),
            "document" => Self::Document(typed(&ty, raw)?),
            _ => Self::Other(raw),
        })
    }
}

/// A tool definition. Custom tools have `input_schema`; server tools (`web_search_20250305`,
/// `bash_20250124`, ...) have a versioned `type` and no schema.
#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Required for custom tools; server tools such as `mcp_toolset` have none.
    #[serde(default)]
    pub name: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    // Struct variants so that `disable_parallel_tool_use` and future fields are tolerated.
    Auto {},
    Any {},
    None {},
    Tool { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    Enabled {
        budget_tokens: u32,
    },
    /// `{"type":"adaptive","display":"omitted"}`; `display` does not change what we ask for.
    Adaptive {},
    Disabled {},
}

// ---------------------------------------------------------------------------------------------
// Responses and stream events
// ---------------------------------------------------------------------------------------------

/// A complete message: the non-streaming response body, and the `message` of `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessagesResponse {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: Role,
    pub model: String,
    pub content: Vec<ContentBlock>,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub cache_creation_input_tokens: u32,
    pub cache_read_input_tokens: u32,
    /// The cache writes split by TTL, written only when the upstream reported the split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<conduit_core::CacheCreation>,
    pub output_tokens: u32,
}

/// One server-sent event of a streaming response; the SSE `event:` name equals `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent<'a> {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        index: usize,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        usage: Usage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorDetail,
    },
}

impl StreamEvent<'_> {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
            StreamEvent::Error { .. } => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta<'a> {
    TextDelta { text: &'a str },
    ThinkingDelta { thinking: &'a str },
    SignatureDelta { signature: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageDelta {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<String>,
}

/// `{"type":"error","error":{...}}`, the body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
}

/// `{"input_tokens": N}`, the body of `/v1/messages/count_tokens`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountTokensResponse {
    pub input_tokens: u32,
}

/// The body of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelList {
    pub data: Vec<Model>,
    pub has_more: bool,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub display_name: String,
    pub created_at: &'static str,
    /// Not in Anthropic's schema: the model's input context window, for gateway-aware clients.
    pub context_window: u32,
    /// Not in Anthropic's schema: the most output tokens one response may have.
    pub max_output_tokens: u32,
}
