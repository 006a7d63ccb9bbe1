//! Test support for conduit's crates, used only as a dev-dependency: [`FakeUpstream`], a
//! scripted [`conduit_core::Upstream`] that records every call, and [`events`], builders of
//! canonical turns and of Anthropic Messages events. `tests/crate_graph.rs` holds the
//! workspace's allowed dependency edges.

pub mod events;
pub mod fake;

pub use events::{messages_text_turn, text_turn, thinking_turn, tool_turn};
pub use fake::{FakeUpstream, MessagesOutcome, Outcome};
