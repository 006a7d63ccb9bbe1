//! Folding a canonical event stream into one complete response, for non-streaming clients.

use futures::StreamExt;
use serde::Serialize;

use crate::{
    Block, BlockDelta, BlockStart, Error, ErrorKind, Event, EventStream, StopReason, Usage,
};

/// A complete assistant message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop_reason: StopReason,
    pub usage: Usage,
}

/// A block being assembled from deltas.
enum Partial {
    Text(String),
    Thinking(String, Option<String>),
    Redacted(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
}

impl Partial {
    fn finish(self) -> Result<Block, Error> {
        Ok(match self {
            Partial::Text(text) => Block::Text(text),
            Partial::Thinking(text, signature) => Block::Thinking { text, signature },
            Partial::Redacted(data) => Block::RedactedThinking { data },
            Partial::ToolUse { id, name, json } => {
                let input = if json.trim().is_empty() {
                    serde_json::Value::Object(Default::default())
                } else {
                    serde_json::from_str(&json).map_err(|e| {
                        Error::new(
                            ErrorKind::UpstreamProtocol,
                            format!("the upstream sent tool call `{name}` with input that is not valid JSON ({e})"),
                        )
                    })?
                };
                Block::ToolUse { id, name, input }
            }
        })
    }
}

/// Drain `stream` into a [`Response`]. The first error in the stream is returned as is.
pub async fn collect(mut stream: EventStream) -> Result<Response, Error> {
    let mut id = String::new();
    let mut model = String::new();
    let mut content = Vec::new();
    let mut current: Option<Partial> = None;
    while let Some(event) = stream.next().await {
        match event? {
            Event::MessageStart {
                id: i, model: m, ..
            } => {
                id = i;
                model = m;
            }
            Event::BlockStart { block, .. } => {
                if let Some(open) = current.take() {
                    content.push(open.finish()?);
                }
                current = Some(match block {
                    BlockStart::Text => Partial::Text(String::new()),
                    BlockStart::Thinking => Partial::Thinking(String::new(), None),
                    BlockStart::RedactedThinking { data } => Partial::Redacted(data),
                    BlockStart::ToolUse { id, name } => Partial::ToolUse {
                        id,
                        name,
                        json: String::new(),
                    },
                });
            }
            Event::BlockDelta { delta, .. } => match (&mut current, delta) {
                (Some(Partial::Text(buf)), BlockDelta::Text(s))
                | (Some(Partial::Thinking(buf, _)), BlockDelta::Thinking(s))
                | (Some(Partial::ToolUse { json: buf, .. }), BlockDelta::InputJson(s)) => {
                    buf.push_str(&s)
                }
                (Some(Partial::Thinking(_, sig)), BlockDelta::ThinkingSignature(s)) => {
                    *sig = Some(s)
                }
                _ => {
                    return Err(Error::internal(
                        "event stream delta does not match its block (a gateway bug)",
                    ))
                }
            },
            Event::BlockStop { .. } => {
                if let Some(open) = current.take() {
                    content.push(open.finish()?);
                }
            }
            Event::MessageEnd { stop_reason, usage } => {
                if let Some(open) = current.take() {
                    content.push(open.finish()?);
                }
                return Ok(Response {
                    id,
                    model,
                    content,
                    stop_reason,
                    usage,
                });
            }
            Event::Ping => {}
        }
    }
    Err(Error::new(
        ErrorKind::UpstreamProtocol,
        "the upstream stream ended before the message was complete",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn run(events: Vec<Result<Event, Error>>) -> Result<Response, Error> {
        let s: EventStream = Box::pin(stream::iter(events));
        futures::executor::block_on(collect(s))
    }

    #[test]
    fn assembles_text_and_tool_use() {
        let r = run(vec![
            Ok(Event::MessageStart {
                id: "msg_1".into(),
                model: "m".into(),
                input_tokens: 3,
            }),
            Ok(Event::BlockStart {
                index: 0,
                block: BlockStart::Text,
            }),
            Ok(Event::BlockDelta {
                index: 0,
                delta: BlockDelta::Text("Hel".into()),
            }),
            Ok(Event::BlockDelta {
                index: 0,
                delta: BlockDelta::Text("lo".into()),
            }),
            Ok(Event::BlockStop { index: 0 }),
            Ok(Event::BlockStart {
                index: 1,
                block: BlockStart::ToolUse {
                    id: "t1".into(),
                    name: "Write".into(),
                },
            }),
            Ok(Event::BlockDelta {
                index: 1,
                delta: BlockDelta::InputJson("{\"a\":".into()),
            }),
            Ok(Event::BlockDelta {
                index: 1,
                delta: BlockDelta::InputJson("1}".into()),
            }),
            Ok(Event::BlockStop { index: 1 }),
            Ok(Event::MessageEnd {
                stop_reason: StopReason::ToolUse,
                usage: Usage::default(),
            }),
        ])
        .unwrap();
        assert_eq!(r.content[0], Block::Text("Hello".into()));
        assert_eq!(
            r.content[1],
            Block::ToolUse {
                id: "t1".into(),
                name: "Write".into(),
                input: serde_json::json!({"a": 1})
            }
        );
        assert_eq!(r.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let e = run(vec![Ok(Event::MessageStart {
            id: "m".into(),
            model: "m".into(),
            input_tokens: 0,
        })])
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UpstreamProtocol);
    }
}
