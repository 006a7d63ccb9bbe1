//! The request rules of GenerateAssistantResponse (spec §3.3, §3.4): a request the real service
//! rejects is rejected here with the same 400 body.

use std::collections::HashSet;

use serde_json::Value;

use crate::config::SimConfig;
use crate::errors;
use crate::model::HttpError;

/// What rule matching needs to know about a valid request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChatView {
    pub content: String,
    pub model: Option<String>,
    pub has_tool_results: bool,
    pub tool_result_texts: Vec<String>,
}

const IMAGE_FORMATS: [&str; 4] = ["jpeg", "png", "gif", "webp"];
const MAX_TOOL_NAME: usize = 64;
const MAX_TOOL_DESCRIPTION: usize = 10_240;

type Check<T> = Result<T, HttpError>;

fn bad<T>() -> Check<T> {
    Err(errors::improperly_formed())
}

fn ensure(cond: bool) -> Check<()> {
    if cond {
        Ok(())
    } else {
        bad()
    }
}

/// Validate a parsed body; the profileArn policy is checked separately (it has its own message).
pub(crate) fn validate(body: &Value, config: &SimConfig) -> Check<ChatView> {
    let state = body
        .get("conversationState")
        .ok_or_else(errors::improperly_formed)?;
    ensure(state.is_object())?;
    if let Some(arn) = body.get("profileArn") {
        ensure(arn.is_string())?;
    }
    let current = state
        .get("currentMessage")
        .and_then(|m| m.get("userInputMessage"))
        .ok_or_else(errors::improperly_formed)?;
    let history = match state.get("history") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(h)) => h.as_slice(),
        Some(_) => return bad(),
    };

    let mut models = Vec::new();
    let mut prev_tool_uses: Option<HashSet<String>> = None;
    let mut uses_tools = false;
    for (i, entry) in history.iter().enumerate() {
        let expect_user = i % 2 == 0;
        if expect_user {
            let user = single_member(entry, "userInputMessage")?;
            uses_tools |= check_user(user, prev_tool_uses.take(), &mut models)?;
        } else {
            let assistant = single_member(entry, "assistantResponseMessage")?;
            let ids = check_assistant(assistant)?;
            uses_tools |= !ids.is_empty();
            prev_tool_uses = Some(ids);
        }
    }
    // The current message is a user turn, so history must end with an assistant turn.
    ensure(history.len() % 2 == 0)?;
    uses_tools |= check_user(current, prev_tool_uses.take(), &mut models)?;

    let tools = current
        .get("userInputMessageContext")
        .and_then(|c| c.get("tools"));
    let tool_count = check_tools(tools)?;
    if uses_tools {
        ensure(tool_count > 0)?;
    }
    for m in &models {
        if !config.knows_model(m) {
            return Err(errors::invalid_model());
        }
    }
    Ok(view(current))
}

/// The entry must be an object holding exactly the named member, itself an object.
fn single_member<'a>(entry: &'a Value, name: &str) -> Check<&'a Value> {
    let obj = entry.as_object().ok_or_else(errors::improperly_formed)?;
    ensure(obj.len() == 1)?;
    let inner = obj.get(name).ok_or_else(errors::improperly_formed)?;
    ensure(inner.is_object())?;
    Ok(inner)
}

/// Check a user turn against the tool uses of the preceding assistant turn; returns whether it
/// carries tool results.
fn check_user(
    user: &Value,
    prev_tool_uses: Option<HashSet<String>>,
    models: &mut Vec<String>,
) -> Check<bool> {
    let content = user
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(errors::improperly_formed)?;
    match user.get("modelId") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) => models.push(m.clone()),
        Some(_) => return bad(),
    }
    check_images(user.get("images"))?;
    let results = user
        .get("userInputMessageContext")
        .and_then(|c| c.get("toolResults"));
    let results = match results {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(r)) => r.as_slice(),
        Some(_) => return bad(),
    };
    // Empty content is accepted on a user turn that carries tool results (spec §3.4 rule 4).
    ensure(!content.is_empty() || !results.is_empty())?;

    let expected = prev_tool_uses.unwrap_or_default();
    let mut seen = HashSet::new();
    for r in results {
        let id = r
            .get("toolUseId")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(expected.contains(id))?;
        ensure(seen.insert(id.to_owned()))?;
        check_tool_result(r)?;
    }
    // Every tool use of the preceding assistant turn must be answered here.
    ensure(expected.iter().all(|id| seen.contains(id)))?;
    Ok(!results.is_empty())
}

fn check_tool_result(r: &Value) -> Check<()> {
    match r.get("status") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => ensure(s == "success" || s == "error")?,
        Some(_) => return bad(),
    }
    let blocks = r
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(errors::improperly_formed)?;
    for b in blocks {
        let ok = b.get("text").is_some_and(Value::is_string) || b.get("json").is_some();
        ensure(ok)?;
    }
    Ok(())
}

/// Check an assistant turn; returns its tool use ids.
fn check_assistant(assistant: &Value) -> Check<HashSet<String>> {
    let content = assistant
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(errors::improperly_formed)?;
    ensure(!content.is_empty())?;
    let uses = match assistant.get("toolUses") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(u)) => u.as_slice(),
        Some(_) => return bad(),
    };
    let mut ids = HashSet::new();
    for u in uses {
        let id = u
            .get("toolUseId")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        let name = u
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(!name.is_empty())?;
        ensure(u.get("input").is_some_and(Value::is_object))?;
        ensure(ids.insert(id.to_owned()))?;
    }
    Ok(ids)
}

/// Check tool specifications; returns how many there are.
fn check_tools(tools: Option<&Value>) -> Check<usize> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(t)) => t,
        Some(_) => return bad(),
    };
    for t in tools {
        let spec = t
            .get("toolSpecification")
            .ok_or_else(errors::improperly_formed)?;
        let name = spec
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(!name.is_empty() && name.chars().count() <= MAX_TOOL_NAME)?;
        let description = spec
            .get("description")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(!description.is_empty() && description.chars().count() <= MAX_TOOL_DESCRIPTION)?;
        let schema = spec
            .get("inputSchema")
            .and_then(|s| s.get("json"))
            .ok_or_else(errors::improperly_formed)?;
        ensure(schema.is_object())?;
        if ["oneOf", "anyOf", "allOf"]
            .iter()
            .any(|k| schema.get(k).is_some())
        {
            return Err(errors::tool_schema_invalid(errors::TOOL_SCHEMA_TOP_LEVEL));
        }
    }
    Ok(tools.len())
}

fn check_images(images: Option<&Value>) -> Check<()> {
    let images = match images {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(i)) => i,
        Some(_) => return bad(),
    };
    for img in images {
        let format = img
            .get("format")
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(IMAGE_FORMATS.contains(&format))?;
        let bytes = img
            .get("source")
            .and_then(|s| s.get("bytes"))
            .and_then(Value::as_str)
            .ok_or_else(errors::improperly_formed)?;
        ensure(!bytes.is_empty())?;
    }
    Ok(())
}

fn view(current: &Value) -> ChatView {
    let results = current
        .get("userInputMessageContext")
        .and_then(|c| c.get("toolResults"))
        .and_then(Value::as_array);
    let mut texts = Vec::new();
    for r in results.into_iter().flatten() {
        for b in r
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match (b.get("text"), b.get("json")) {
                (Some(Value::String(t)), _) => texts.push(t.clone()),
                (_, Some(j)) => texts.push(j.to_string()),
                _ => {}
            }
        }
    }
    ChatView {
        content: current
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        model: current
            .get("modelId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        has_tool_results: results.is_some_and(|r| !r.is_empty()),
        tool_result_texts: texts,
    }
}
