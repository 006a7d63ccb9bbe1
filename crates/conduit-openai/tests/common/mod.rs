//! Helpers shared by the test files: fixtures, rendering outcomes, canonical event builders.
#![allow(dead_code)]

use std::path::PathBuf;

use conduit_core::{BlockDelta, BlockStart, Error, Event, StopReason, Usage};
use conduit_openai::error_body;

pub fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The canonical request as pretty JSON, or the error as status and OpenAI body.
pub fn render<T: serde::Serialize>(result: Result<T, Error>) -> String {
    match result {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap(),
        Err(e) => {
            let (status, body) = error_body(&e);
            format!("{status} {}", String::from_utf8(body).unwrap())
        }
    }
}

/// What a canonical stream carries: an event, or an error that ends it.
pub enum Item {
    Ev(Event),
    Err(Error),
}

pub fn start(input_tokens: u32) -> Item {
    Item::Ev(Event::MessageStart {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
        model: "claude-opus-5-5".into(),
        input_tokens,
    })
}

pub fn block(index: usize, block: BlockStart) -> Item {
    Item::Ev(Event::BlockStart { index, block })
}

pub fn tool(index: usize, id: &str, name: &str) -> Item {
    block(
        index,
        BlockStart::ToolUse {
            id: id.into(),
            name: name.into(),
        },
    )
}

pub fn text(index: usize, t: &str) -> Item {
    Item::Ev(Event::BlockDelta {
        index,
        delta: BlockDelta::Text(t.into()),
    })
}

pub fn thinking(index: usize, t: &str) -> Item {
    Item::Ev(Event::BlockDelta {
        index,
        delta: BlockDelta::Thinking(t.into()),
    })
}

pub fn signature(index: usize, s: &str) -> Item {
    Item::Ev(Event::BlockDelta {
        index,
        delta: BlockDelta::ThinkingSignature(s.into()),
    })
}

pub fn json(index: usize, j: &str) -> Item {
    Item::Ev(Event::BlockDelta {
        index,
        delta: BlockDelta::InputJson(j.into()),
    })
}

pub fn stop(index: usize) -> Item {
    Item::Ev(Event::BlockStop { index })
}

pub fn ping() -> Item {
    Item::Ev(Event::Ping)
}

pub fn end(stop_reason: StopReason, input_tokens: u32, output_tokens: u32) -> Item {
    Item::Ev(Event::MessageEnd {
        stop_reason,
        usage: Usage {
            input_tokens,
            output_tokens,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
            ..Usage::default()
        },
    })
}

/// The canonical streams both dialects are checked against, by name.
pub fn scenarios() -> Vec<(&'static str, Vec<Item>)> {
    use conduit_core::ErrorKind;
    vec![
        (
            "text",
            vec![
                start(25),
                ping(),
                block(0, BlockStart::Text),
                text(0, "Hello"),
                text(0, ", \"world\"\n"),
                stop(0),
                end(StopReason::EndTurn, 25, 4),
            ],
        ),
        (
            "thinking_then_text",
            vec![
                start(1200),
                block(0, BlockStart::Thinking),
                thinking(0, "The user wants"),
                thinking(0, " a greeting."),
                signature(0, "EqQBCkYIBxgC"),
                stop(0),
                block(1, BlockStart::Text),
                text(1, "Hi!"),
                stop(1),
                end(StopReason::EndTurn, 1200, 40),
            ],
        ),
        (
            "parallel_tool_calls",
            vec![
                start(300),
                block(0, BlockStart::Text),
                text(0, "Checking both cities."),
                stop(0),
                tool(1, "toolu_01", "get_weather"),
                json(1, "{\"city\":"),
                json(1, "\"Paris\"}"),
                stop(1),
                ping(),
                tool(2, "toolu_02", "get_weather"),
                json(2, "{\"city\":\"Tokyo\"}"),
                stop(2),
                end(StopReason::ToolUse, 300, 61),
            ],
        ),
        (
            "tool_call_without_arguments",
            vec![
                start(10),
                tool(0, "toolu_03", "get_time"),
                stop(0),
                end(StopReason::ToolUse, 10, 5),
            ],
        ),
        (
            "max_tokens",
            vec![
                start(10),
                block(0, BlockStart::Text),
                text(0, "Once upon a"),
                stop(0),
                end(StopReason::MaxTokens, 10, 3),
            ],
        ),
        (
            "error_mid_stream",
            vec![
                start(10),
                block(0, BlockStart::Text),
                text(0, "partial"),
                Item::Err(Error::new(
                    ErrorKind::Overloaded,
                    "Kiro is overloaded; retry in a few seconds",
                )),
                stop(0),
                end(StopReason::EndTurn, 10, 1),
            ],
        ),
        (
            "context_overflow_mid_stream",
            vec![
                start(10),
                Item::Err(Error::context_overflow(210_345, 200_000)),
            ],
        ),
        (
            "sloppy_stream_repaired",
            vec![
                start(10),
                block(0, BlockStart::Text),
                text(0, "a"),
                block(1, BlockStart::Text),
                text(1, "b"),
                end(StopReason::EndTurn, 0, 2),
                ping(),
                end(StopReason::EndTurn, 0, 2),
                Item::Err(Error::internal("late")),
            ],
        ),
    ]
}

/// `reasoning_effort` / `reasoning.effort` levels and the canonical thinking and effort each
/// decodes to (`None` level: the option absent).
pub const EFFORT_LEVELS: &[(Option<&str>, &str, Option<&str>)] = &[
    (None, "disabled", None),
    (Some("none"), "disabled", None),
    (Some("minimal"), "adaptive", Some("low")),
    (Some("low"), "adaptive", Some("low")),
    (Some("medium"), "adaptive", Some("medium")),
    (Some("high"), "adaptive", Some("high")),
    (Some("xhigh"), "adaptive", Some("xhigh")),
    (Some("max"), "adaptive", Some("max")),
    // A level from a newer model: thinking on, no effort of the client's own.
    (Some("turbo"), "adaptive", None),
];

/// Checks one decoded request against a row of [`EFFORT_LEVELS`].
pub fn check_effort(
    request: &conduit_core::Request,
    level: Option<&str>,
    thinking: &str,
    effort: Option<&str>,
) {
    let json = serde_json::to_value(request).unwrap();
    assert_eq!(json["thinking"]["type"], thinking, "{level:?}");
    assert_eq!(json["effort"].as_str(), effort, "{level:?}");
}
