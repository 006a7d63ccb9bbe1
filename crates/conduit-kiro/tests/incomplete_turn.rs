//! A turn after a tool result that brings reasoning only (no text, no tool call) is sent once
//! more, and reported as an error if the second answer is no better, never as `end_turn`.

#![allow(
    clippy::unwrap_used,
    reason = "test stories: a panic is the failure report"
)]

mod client_harness;

use client_harness::{Harness, Token};
use conduit_core::{collect, Block, ErrorKind, Message, Request, Role, Thinking, Tool};
use conduit_sim::{Rule, Step};
use serde_json::json;

fn after_tool_result() -> Request {
    Request {
        model: "claude-opus-5-5".into(),
        tools: vec![Tool {
            name: "Read".into(),
            description: "Read a file".into(),
            input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        }],
        messages: vec![
            Message::user_text("Read a.txt"),
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "toolu_1".into(),
                    name: "Read".into(),
                    input: json!({"path": "a.txt"}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult {
                    tool_use_id: "toolu_1".into(),
                    content: vec![conduit_core::ToolResultContent::Text("hello".into())],
                    is_error: false,
                }],
            },
        ],
        thinking: Thinking::Adaptive,
        max_tokens: Some(4_000),
        stream: true,
        ..Request::default()
    }
}

fn texts(r: &conduit_core::Response) -> Vec<&str> {
    r.content
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_reasoning_only_turn_is_sent_once_more() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::reply(vec![Step::reasoning("Let me think.")]).times(1));
    h.sim.add_rule(Rule::reply(vec![
        Step::reasoning("The file says hello."),
        Step::text("It says hello."),
    ]));
    let up = h.upstream();
    let response = collect(up.send(after_tool_result()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(texts(&response), ["It says hello."]);
    assert_eq!(h.chats(), 2);
}

#[tokio::test]
async fn twice_reasoning_only_is_an_error_not_end_turn() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::reply(vec![Step::reasoning("Hmm.")]));
    let up = h.upstream();
    let err = match up.send(after_tool_result()).await {
        Err(e) => e,
        Ok(stream) => collect(stream).await.unwrap_err(),
    };
    assert_eq!(err.kind, ErrorKind::IncompleteTurn);
    assert_eq!(h.chats(), 2);
}

/// Without a tool result before it, a reasoning-only answer is not retried.
#[tokio::test]
async fn a_first_turn_is_not_retried() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::reply(vec![
        Step::reasoning("Hmm."),
        Step::text("Hi."),
    ]));
    let up = h.upstream();
    let request = Request {
        messages: vec![Message::user_text("hi")],
        ..after_tool_result()
    };
    collect(up.send(request).await.unwrap()).await.unwrap();
    assert_eq!(h.chats(), 1);
}
