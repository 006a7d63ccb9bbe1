//! Builders of whole turns: canonical [`Event`]s as an upstream yields them after its
//! `MessageStart` (blocks, then `MessageEnd`), and Anthropic Messages [`RawEvent`]s as an
//! upstream's Messages lane yields them.

use bytes::Bytes;
use conduit_core::{BlockDelta, BlockStart, Event, RawEvent, StopReason, Usage};
use serde_json::json;

fn usage(output: &str) -> Usage {
    Usage {
        output_tokens: conduit_core::tokens::count_text(output),
        ..Usage::default()
    }
}

/// One text block, then `end_turn`.
pub fn text_turn(text: &str) -> Vec<Event> {
    vec![
        Event::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::Text(text.to_string()),
        },
        Event::BlockStop { index: 0 },
        Event::MessageEnd {
            stop_reason: StopReason::EndTurn,
            usage: usage(text),
        },
    ]
}

/// A signed thinking block, then a text block, then `end_turn`.
pub fn thinking_turn(thinking: &str, signature: &str, text: &str) -> Vec<Event> {
    let mut events = vec![
        Event::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::Thinking(thinking.to_string()),
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::ThinkingSignature(signature.to_string()),
        },
        Event::BlockStop { index: 0 },
    ];
    events.extend(text_turn(text).into_iter().map(|e| reindex(e, 1)));
    events
}

/// One tool call (`input` is its JSON input), then `tool_use`.
pub fn tool_turn(id: &str, name: &str, input: serde_json::Value) -> Vec<Event> {
    let input = input.to_string();
    vec![
        Event::BlockStart {
            index: 0,
            block: BlockStart::ToolUse {
                id: id.to_string(),
                name: name.to_string(),
            },
        },
        Event::BlockDelta {
            index: 0,
            delta: BlockDelta::InputJson(input.clone()),
        },
        Event::BlockStop { index: 0 },
        Event::MessageEnd {
            stop_reason: StopReason::ToolUse,
            usage: usage(&input),
        },
    ]
}

fn reindex(event: Event, by: usize) -> Event {
    match event {
        Event::BlockStart { index, block } => Event::BlockStart {
            index: index + by,
            block,
        },
        Event::BlockDelta { index, delta } => Event::BlockDelta {
            index: index + by,
            delta,
        },
        Event::BlockStop { index } => Event::BlockStop { index: index + by },
        other => other,
    }
}

fn raw(name: &str, data: serde_json::Value) -> RawEvent {
    RawEvent {
        name: name.to_string(),
        data: Bytes::from(data.to_string()),
    }
}

/// A whole Anthropic Messages stream with one text block, as the Messages lane yields it.
pub fn messages_text_turn(id: &str, model: &str, text: &str) -> Vec<RawEvent> {
    vec![
        raw(
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
                "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        ),
        raw(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        raw(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        raw(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        raw(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": conduit_core::tokens::count_text(text)}}),
        ),
        raw("message_stop", json!({"type": "message_stop"})),
    ]
}
