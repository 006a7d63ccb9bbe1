//! Canonical messages → a turn list that satisfies Kiro's history rules: starts with user, ends
//! with user, strictly alternates, tool results answer the tool uses right before them.

use std::collections::HashSet;

use conduit_core::{Block, Message, Role, ToolResultContent};

use super::tools::{kiro_tool_name, sanitize_input};
use crate::reasoning::is_placeholder_signature;
use crate::wire::{
    KiroImage, ReasoningContent, ReasoningText, ToolResult, ToolResultContentBlock,
    ToolResultStatus, ToolUse,
};

/// Stands in for content the service requires to be non-empty.
pub const PLACEHOLDER: &str = "(empty placeholder)";
/// The user turn sent after a trailing assistant message (prefill), asking the model to go on.
pub const CONTINUE: &str = "Continue";
/// A tool result without any text.
pub const EMPTY_RESULT: &str = "(empty result)";

/// One turn on its way to the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub text: Vec<String>,
    pub images: Vec<KiroImage>,
    pub tool_uses: Vec<ToolUse>,
    pub tool_results: Vec<ToolResult>,
    /// An assistant turn's native reasoning, as Kiro sent it (one per turn: the first).
    pub reasoning: Option<ReasoningContent>,
}

impl Turn {
    fn new(role: Role) -> Self {
        Self {
            role,
            text: Vec::new(),
            images: Vec::new(),
            tool_uses: Vec::new(),
            tool_results: Vec::new(),
            reasoning: None,
        }
    }

    /// A user turn holding only the placeholder.
    pub fn placeholder() -> Self {
        Self::user_text(PLACEHOLDER)
    }

    fn user_text(text: &str) -> Self {
        let mut t = Self::new(Role::User);
        t.text.push(text.to_string());
        t
    }

    /// The turn's text, or the placeholder when it has none.
    pub fn content(&self) -> String {
        if self.text.is_empty() {
            PLACEHOLDER.to_string()
        } else {
            self.text.join("\n\n")
        }
    }

    /// Turns this user turn's tool results into text (their tool uses are gone).
    pub fn orphan_results(&mut self) {
        let results = std::mem::take(&mut self.tool_results);
        let texts: Vec<String> = results.iter().map(result_as_text).collect();
        self.text.splice(0..0, texts);
    }
}

/// The image as Kiro wants it (real format, within the limits: [`super::images`]), or the
/// note that stands in for it.
fn add_image(turn: &mut Turn, img: &conduit_core::Image) {
    match super::images::kiro_image(img) {
        Ok(image) => turn.images.push(image),
        Err(note) => turn.text.push(note),
    }
}

fn use_as_text(tool_use: &ToolUse) -> String {
    format!(
        "[Tool: {} ({})]\n{}",
        tool_use.name, tool_use.tool_use_id, tool_use.input
    )
}

fn result_as_text(result: &ToolResult) -> String {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| match c {
            ToolResultContentBlock::Text(t) => Some(t.as_str()),
            ToolResultContentBlock::Json(_) => None,
        })
        .collect();
    let status = match result.status {
        ToolResultStatus::Error => " error",
        ToolResultStatus::Success => "",
    };
    format!(
        "[Tool Result ({}){status}]\n{}",
        result.tool_use_id,
        text.join("\n")
    )
}

/// Earlier reasoning as Kiro takes it back: only what Kiro itself signed (or redacted), never a
/// signature of ours, never unsigned or empty reasoning (spec §9.4).
fn replayable(block: &Block) -> Option<ReasoningContent> {
    match block {
        Block::Thinking {
            text,
            signature: Some(signature),
        } if !text.is_empty() && !signature.is_empty() && !is_placeholder_signature(signature) => {
            Some(ReasoningContent::ReasoningText(ReasoningText {
                text: text.clone(),
                signature: signature.clone(),
            }))
        }
        Block::RedactedThinking { data } if !data.is_empty() => {
            Some(ReasoningContent::RedactedContent(data.clone()))
        }
        _ => None,
    }
}

/// Converts one message; with `tools_defined == false` all tool content becomes text. Signed
/// reasoning of an assistant message is kept when `replay_reasoning`.
fn turn(message: &Message, tools_defined: bool, replay_reasoning: bool) -> Turn {
    let mut turn = Turn::new(message.role);
    let user = message.role == Role::User;
    for block in &message.content {
        match block {
            Block::Text(t) if t.trim().is_empty() => {}
            Block::Text(t) => turn.text.push(t.clone()),
            Block::Image(img) if user => add_image(&mut turn, img),
            // Kiro has nowhere to put an assistant image.
            Block::Image(_) => {}
            Block::ToolUse { id, name, input } => {
                let tool_use = ToolUse {
                    tool_use_id: id.clone(),
                    name: kiro_tool_name(name),
                    input: sanitize_input(input),
                };
                if tools_defined && !user {
                    turn.tool_uses.push(tool_use);
                } else {
                    turn.text.push(use_as_text(&tool_use));
                }
            }
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut texts = Vec::new();
                for c in content {
                    match c {
                        ToolResultContent::Text(t) => texts.push(t.as_str()),
                        // Carried into the user message that holds the result (Kiro has no image
                        // member in a tool result).
                        ToolResultContent::Image(img) => add_image(&mut turn, img),
                    }
                }
                let text = texts.join("\n");
                let result = ToolResult {
                    tool_use_id: tool_use_id.clone(),
                    content: vec![ToolResultContentBlock::Text(if text.trim().is_empty() {
                        EMPTY_RESULT.to_string()
                    } else {
                        text
                    })],
                    status: if *is_error {
                        ToolResultStatus::Error
                    } else {
                        ToolResultStatus::Success
                    },
                };
                if tools_defined && user {
                    turn.tool_results.push(result);
                } else {
                    turn.text.push(result_as_text(&result));
                }
            }
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {
                if replay_reasoning && !user && turn.reasoning.is_none() {
                    turn.reasoning = replayable(block);
                }
            }
        }
    }
    turn
}

/// The normalised turns: never empty, first and last are user turns, roles alternate.
pub fn normalize(messages: &[Message], tools_defined: bool, replay_reasoning: bool) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    for message in messages {
        let next = turn(message, tools_defined, replay_reasoning);
        match turns.last_mut() {
            Some(prev) if prev.role == next.role => {
                prev.text.extend(next.text);
                prev.images.extend(next.images);
                prev.tool_uses.extend(next.tool_uses);
                prev.tool_results.extend(next.tool_results);
                prev.reasoning = prev.reasoning.take().or(next.reasoning);
            }
            _ => turns.push(next),
        }
    }
    if turns.first().is_none_or(|t| t.role != Role::User) {
        turns.insert(0, Turn::user_text(PLACEHOLDER));
    }
    if turns.last().is_some_and(|t| t.role == Role::Assistant) {
        turns.push(Turn::user_text(CONTINUE));
    }
    pair_tools(&mut turns);
    turns
}

/// Every tool result answers a tool use in the assistant turn just before it (else it becomes
/// text); every tool use has a result in the user turn just after it (else it is removed);
/// ids are unique.
fn pair_tools(turns: &mut [Turn]) {
    for i in 0..turns.len() {
        if turns[i].role != Role::User {
            continue;
        }
        let offered: HashSet<String> = match i.checked_sub(1).map(|j| &turns[j]) {
            Some(prev) => prev
                .tool_uses
                .iter()
                .map(|u| u.tool_use_id.clone())
                .collect(),
            None => HashSet::new(),
        };
        let mut seen = HashSet::new();
        let results = std::mem::take(&mut turns[i].tool_results);
        let mut orphans = Vec::new();
        for result in results {
            if !offered.contains(&result.tool_use_id) {
                orphans.push(result_as_text(&result));
            } else if seen.insert(result.tool_use_id.clone()) {
                turns[i].tool_results.push(result);
            }
        }
        turns[i].text.splice(0..0, orphans);
        if i > 0 {
            let assistant = &mut turns[i - 1];
            let mut kept = HashSet::new();
            assistant
                .tool_uses
                .retain(|u| seen.contains(&u.tool_use_id) && kept.insert(u.tool_use_id.clone()));
        }
    }
    // An assistant turn is always followed by a user turn after `normalize`, so every tool use
    // was checked above.
}

/// Tool names used in history, in order of first use.
pub fn used_tool_names(turns: &[Turn]) -> Vec<&str> {
    let mut seen = HashSet::new();
    turns
        .iter()
        .flat_map(|t| t.tool_uses.iter().map(|u| u.name.as_str()))
        .filter(|n| seen.insert(*n))
        .collect()
}
