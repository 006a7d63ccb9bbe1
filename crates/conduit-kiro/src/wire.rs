//! Kiro wire types: the `generateAssistantResponse` request body and the decoded stream events,
//! named as the service names them (camelCase JSON).

use conduit_core::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole request body (both the REST-JSON and the AWS JSON 1.0 binding send this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateAssistantResponseRequest {
    pub conversation_state: ConversationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_arn: Option<String>,
    /// Model-specific fields, checked against the model's `additionalModelRequestFieldsSchema`
    /// (spec §9.4); only ever `{"output_config":{"effort":…}}` here. Keys are snake_case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationState {
    /// Always `MANUAL` (`AUTO` is not an enum value of the service).
    pub chat_trigger_type: String,
    pub conversation_id: String,
    pub current_message: CurrentMessage,
    /// Strictly alternating user/assistant, starting with user and ending with assistant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentMessage {
    pub user_input_message: UserInputMessage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputMessage {
    /// Never empty.
    pub content: String,
    pub model_id: String,
    /// `AI_EDITOR` (Kiro IDE persona).
    pub origin: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<KiroImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_input_message_context: Option<UserInputMessageContext>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputMessageContext {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_results: Vec<ToolResult>,
}

impl UserInputMessageContext {
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.tool_results.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistantResponseMessage {
    /// Never empty.
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_uses: Vec<ToolUse>,
    /// Native reasoning of this turn, replayed exactly as Kiro sent it (spec §9.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<ReasoningContent>,
}

/// `assistantResponseMessage.reasoningContent`: `{"reasoningText":{"text","signature"}}` or
/// `{"redactedContent": …}`. The flat form (a string plus a sibling signature) is refused by
/// the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningContent {
    ReasoningText(ReasoningText),
    RedactedContent(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningText {
    pub text: String,
    /// Every fragment of the streamed signature, joined.
    pub signature: String,
}

/// One history entry; serialises as `{"userInputMessage": …}` or `{"assistantResponseMessage": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HistoryMessage {
    #[serde(rename = "userInputMessage")]
    User(UserInputMessage),
    #[serde(rename = "assistantResponseMessage")]
    Assistant(AssistantResponseMessage),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub tool_specification: ToolSpecification,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpecification {
    /// At most 64 characters.
    pub name: String,
    /// Never empty.
    pub description: String,
    pub input_schema: InputSchema,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSchema {
    pub json: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub tool_use_id: String,
    pub content: Vec<ToolResultContentBlock>,
    pub status: ToolResultStatus,
}

/// A tool result content block: `{"text": …}` or `{"json": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolResultContentBlock {
    Text(String),
    Json(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolResultStatus {
    Success,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    pub tool_use_id: String,
    pub name: String,
    /// Always a JSON object.
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KiroImage {
    /// `jpeg`, `png`, `gif` or `webp`.
    pub format: String,
    pub source: ImageSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSource {
    /// Base64, standard alphabet.
    pub bytes: String,
}

/// Real token counts from a `metadataEvent` (official shape; rarely sent by the Kiro hosts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncached_input_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u32>,
}

/// One decoded event-stream message.
#[derive(Debug, Clone, PartialEq)]
pub enum KiroEvent {
    /// `assistantResponseEvent`: a text delta.
    AssistantResponse { content: String },
    /// `toolUseEvent`: start (no input), fragment (`input`), or end (`stop: true`). Every
    /// fragment repeats `name` and `toolUseId`.
    ToolUse {
        tool_use_id: String,
        name: String,
        input: Option<String>,
        stop: bool,
    },
    /// `meteringEvent`: credits consumed.
    Metering { usage: f64 },
    /// `contextUsageEvent`: share of the context window used, in percent.
    ContextUsage { percentage: f64 },
    /// `metadataEvent` with `tokenUsage`: the call's final totals so far (not an increment).
    MetadataTokenUsage(TokenUsage),
    /// `metadataEvent` carrying only `stopReason`.
    MetadataStopReason(String),
    /// `reasoningContentEvent`: native reasoning. Each member is optional; the text and the
    /// signature come in several fragments each, the signature after the text.
    Reasoning {
        text: Option<String>,
        signature: Option<String>,
        redacted_content: Option<String>,
    },
    /// An exception or error message, or an `invalidStateEvent`.
    Exception { kind: String, message: String },
    /// Any other event type; ignored.
    Other(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssistantResponsePayload {
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUsePayload {
    tool_use_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    stop: bool,
}

#[derive(Deserialize)]
struct MeteringPayload {
    #[serde(default)]
    usage: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextUsagePayload {
    context_usage_percentage: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataPayload {
    token_usage: Option<TokenUsage>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningPayload {
    text: Option<String>,
    signature: Option<String>,
    redacted_content: Option<String>,
}

fn parse<'a, T: Deserialize<'a>>(event_type: &str, payload: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(payload).map_err(|e| {
        Error::new(
            ErrorKind::UpstreamProtocol,
            format!("the upstream sent a malformed {event_type} payload: {e}"),
        )
    })
}

/// The `message` of an exception payload, or the payload text itself.
fn exception_message(payload: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    match serde_json::from_slice::<Payload>(payload) {
        Ok(Payload { message: Some(m) }) => m,
        _ => String::from_utf8_lossy(payload).trim().to_string(),
    }
}

impl KiroEvent {
    /// Decodes the payload of an `:message-type: event` message.
    pub fn from_event(event_type: &str, payload: &[u8]) -> Result<Self, Error> {
        Ok(match event_type {
            "assistantResponseEvent" => {
                let p: AssistantResponsePayload = parse(event_type, payload)?;
                KiroEvent::AssistantResponse { content: p.content }
            }
            "toolUseEvent" => {
                let p: ToolUsePayload = parse(event_type, payload)?;
                let input = match p.input {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    // A start event sometimes carries `{}`; it means "nothing yet".
                    Value::Object(o) if o.is_empty() => Some(String::new()),
                    other => Some(other.to_string()),
                };
                KiroEvent::ToolUse {
                    tool_use_id: p.tool_use_id,
                    name: p.name,
                    input,
                    stop: p.stop,
                }
            }
            "meteringEvent" => {
                let p: MeteringPayload = parse(event_type, payload)?;
                KiroEvent::Metering { usage: p.usage }
            }
            "contextUsageEvent" => {
                let p: ContextUsagePayload = parse(event_type, payload)?;
                KiroEvent::ContextUsage {
                    percentage: p.context_usage_percentage,
                }
            }
            "metadataEvent" => {
                let p: MetadataPayload = parse(event_type, payload)?;
                match (p.token_usage, p.stop_reason) {
                    (Some(u), _) => KiroEvent::MetadataTokenUsage(u),
                    (None, Some(reason)) => KiroEvent::MetadataStopReason(reason),
                    (None, None) => KiroEvent::Other(event_type.to_string()),
                }
            }
            "reasoningContentEvent" => {
                let p: ReasoningPayload = parse(event_type, payload)?;
                KiroEvent::Reasoning {
                    text: p.text,
                    signature: p.signature,
                    redacted_content: p.redacted_content,
                }
            }
            "invalidStateEvent" => KiroEvent::Exception {
                kind: "InvalidStateEvent".to_string(),
                message: exception_message(payload),
            },
            other => KiroEvent::Other(other.to_string()),
        })
    }

    /// Decodes an `:message-type: exception` message.
    pub fn from_exception(exception_type: &str, payload: &[u8]) -> Self {
        KiroEvent::Exception {
            kind: exception_type.to_string(),
            message: exception_message(payload),
        }
    }

    /// The `:event-type` (or `:exception-type`) this event travels under, and its JSON payload
    /// with keys in the service's (alphabetical) order. Used by the simulator and tests.
    pub fn to_wire(&self) -> (bool, String, Value) {
        use serde_json::json;
        let event = |t: &str, v: Value| (false, t.to_string(), v);
        match self {
            KiroEvent::AssistantResponse { content } => {
                event("assistantResponseEvent", json!({ "content": content }))
            }
            KiroEvent::ToolUse {
                tool_use_id,
                name,
                input,
                stop,
            } => {
                let mut v = serde_json::Map::new();
                if let Some(input) = input {
                    v.insert("input".into(), json!(input));
                }
                v.insert("name".into(), json!(name));
                if *stop {
                    v.insert("stop".into(), json!(true));
                }
                v.insert("toolUseId".into(), json!(tool_use_id));
                event("toolUseEvent", Value::Object(v))
            }
            KiroEvent::Metering { usage } => event(
                "meteringEvent",
                json!({ "unit": "credit", "unitPlural": "credits", "usage": usage }),
            ),
            KiroEvent::ContextUsage { percentage } => event(
                "contextUsageEvent",
                json!({ "contextUsagePercentage": percentage }),
            ),
            KiroEvent::MetadataTokenUsage(u) => event("metadataEvent", json!({ "tokenUsage": u })),
            KiroEvent::MetadataStopReason(r) => event("metadataEvent", json!({ "stopReason": r })),
            KiroEvent::Reasoning {
                text,
                signature,
                redacted_content,
            } => {
                let mut v = serde_json::Map::new();
                if let Some(r) = redacted_content {
                    v.insert("redactedContent".into(), json!(r));
                }
                if let Some(s) = signature {
                    v.insert("signature".into(), json!(s));
                }
                if let Some(t) = text {
                    v.insert("text".into(), json!(t));
                }
                event("reasoningContentEvent", Value::Object(v))
            }
            KiroEvent::Exception { kind, message } => {
                (true, kind.clone(), json!({ "message": message }))
            }
            KiroEvent::Other(t) => event(t, json!({})),
        }
    }
}
