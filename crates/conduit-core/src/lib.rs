//! The hub of conduit: one canonical request, one canonical stream of events, one error model.
//!
//! Every client dialect decodes into [`Request`] and renders [`Event`]s; every upstream takes a
//! [`Request`] and produces an [`EventStream`]. Nothing here knows about HTTP frameworks or
//! vendor wire formats.

pub mod error;
pub mod event;
pub mod fsutil;
pub mod request;
pub mod response;
pub mod tokens;
pub mod upstream;
pub mod wire_util;

pub use error::{Error, ErrorKind, FailoverCause, Fault, RawError};
pub use event::{BlockDelta, BlockStart, CacheCreation, Event, EventStream, StopReason, Usage};
pub use request::{
    Block, Effort, Image, Message, Request, RequestMeta, Role, Thinking, Tool, ToolChoice,
    ToolResultContent,
};
pub use response::{collect, Response};
pub use upstream::{
    Call, CountFuture, MessagesCall, MessagesFuture, MessagesReply, MessagesUpstream, ModelInfo,
    ModelsFuture, RawEvent, RawEventStream, ResolveFuture, ResolvedModel, SendFuture, Upstream,
    UpstreamKind, UpstreamState, UpstreamStatus,
};
