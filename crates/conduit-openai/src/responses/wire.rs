//! Serde types for OpenAI's Responses API, named as in OpenAI's reference.
//!
//! Request types are tolerant: unknown fields are ignored, and input items and content parts
//! are flat structs with optional fields, so that an unknown `type` reaches the decoder (which
//! drops or names it) instead of failing inside serde. Response objects and stream events
//! serialize in the key order OpenAI uses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::TextOrParts;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The body of `POST /v1/responses`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsesRequest {
    pub model: Option<String>,
    pub input: Option<TextOrParts<InputItem>>,
    pub instructions: Option<String>,
    pub tools: Option<Vec<Tool>>,
    pub tool_choice: Option<Value>,
    pub max_output_tokens: Option<u32>,
    pub reasoning: Option<Reasoning>,
    pub store: Option<bool>,
    pub previous_response_id: Option<String>,
    pub stream: Option<bool>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub parallel_tool_calls: Option<bool>,
    pub text: Option<TextConfig>,
    pub metadata: Option<Value>,
    pub user: Option<String>,
    pub background: Option<bool>,
    pub conversation: Option<Value>,
    // Tolerated and ignored: `include` (we never return encrypted reasoning), `prompt_cache_key`,
    // `service_tier`, `truncation`, `safety_identifier`, `stream_options`, ...
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reasoning {
    pub effort: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextConfig {
    pub format: Option<Value>,
}

/// An input item: a message (`type` absent or `message`), `function_call`,
/// `function_call_output`, `reasoning`, ...; fields are read according to `type`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InputItem {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: Option<TextOrParts<InputPart>>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
    /// `function_call_output.output`: a string or content parts.
    pub output: Option<TextOrParts<InputPart>>,
    /// `custom_tool_call.input`.
    pub input: Option<String>,
}

/// A content part: `input_text`, `output_text`, `refusal`, `input_image`, ...
#[derive(Debug, Clone, Deserialize)]
pub struct InputPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub refusal: Option<String>,
    pub image_url: Option<String>,
    pub file_id: Option<String>,
}

/// A tool. Only `function` tools (flat: `name`, `description`, `parameters`, `strict`) are
/// served; other types (`web_search`, `namespace`, `local_shell`, `custom`, ...) are dropped.
#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Response objects
// ---------------------------------------------------------------------------------------------

/// The response object: the non-streaming body, and inside `response.*` lifecycle events.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseObject {
    pub id: String,
    pub object: &'static str,
    pub created_at: u64,
    pub status: &'static str,
    pub error: Option<ResponseError>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub model: String,
    pub output: Vec<OutputItem>,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub reasoning: ReasoningEcho,
    pub store: bool,
    pub temperature: Option<f32>,
    pub tool_choice: Value,
    pub tools: Vec<ToolEcho>,
    pub top_p: Option<f32>,
    pub truncation: &'static str,
    pub usage: Option<Usage>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncompleteDetails {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReasoningEcho {
    pub effort: Option<String>,
    pub summary: Option<String>,
}

/// A function tool as echoed in the response object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolEcho {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub description: String,
    pub parameters: Value,
    pub strict: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message {
        id: String,
        status: &'static str,
        role: &'static str,
        content: Vec<OutputText>,
    },
    Reasoning {
        id: String,
        summary: Vec<SummaryText>,
    },
    FunctionCall {
        id: String,
        status: &'static str,
        arguments: String,
        call_id: String,
        name: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    pub annotations: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u32,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u32,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct InputTokensDetails {
    pub cached_tokens: u32,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u32,
}

// ---------------------------------------------------------------------------------------------
// Stream events
// ---------------------------------------------------------------------------------------------

/// One SSE event: `type`, the event's own fields, `sequence_number`.
#[derive(Debug, Clone, Serialize)]
pub struct StreamEvent<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(flatten)]
    pub body: EventBody,
    pub sequence_number: u64,
}

/// The fields of a stream event, by event family.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventBody {
    /// `response.created`, `response.in_progress`, `response.completed`, `response.failed`.
    Response { response: Box<ResponseObject> },
    /// `response.output_item.added` / `.done`.
    Item {
        output_index: usize,
        item: OutputItem,
    },
    /// `response.content_part.added` / `.done`.
    ContentPart {
        item_id: String,
        output_index: usize,
        content_index: usize,
        part: OutputText,
    },
    /// `response.output_text.delta`.
    TextDelta {
        item_id: String,
        output_index: usize,
        content_index: usize,
        delta: String,
        logprobs: Vec<Value>,
    },
    /// `response.output_text.done`.
    TextDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        text: String,
        logprobs: Vec<Value>,
    },
    /// `response.reasoning_summary_part.added` / `.done`.
    SummaryPart {
        item_id: String,
        output_index: usize,
        summary_index: usize,
        part: SummaryText,
    },
    /// `response.reasoning_summary_text.delta`.
    SummaryDelta {
        item_id: String,
        output_index: usize,
        summary_index: usize,
        delta: String,
    },
    /// `response.reasoning_summary_text.done`.
    SummaryDone {
        item_id: String,
        output_index: usize,
        summary_index: usize,
        text: String,
    },
    /// `response.function_call_arguments.delta`.
    ArgumentsDelta {
        item_id: String,
        output_index: usize,
        delta: String,
    },
    /// `response.function_call_arguments.done`.
    ArgumentsDone {
        item_id: String,
        output_index: usize,
        arguments: String,
    },
}
