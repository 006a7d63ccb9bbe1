//! Tool calls from `toolUseEvent`s, assembled per `toolUseId`. One call streams live; frames of
//! another call that arrive meanwhile are buffered and that call follows once the live one ends,
//! so blocks never interleave and no call's input mixes with another's.

use conduit_core::{BlockDelta, BlockStart, Error, Event};

use super::{protocol, Assembler, Open};

/// A call whose frames arrived while another call was streaming.
#[derive(Debug)]
pub(super) struct PendingTool {
    pub id: String,
    pub name: String,
    pub input: String,
    pub stopped: bool,
}

impl Assembler {
    pub(super) fn tool_use(
        &mut self,
        id: String,
        name: String,
        input: Option<String>,
        stop: bool,
        out: &mut Vec<Event>,
    ) -> Result<(), Error> {
        if self.finished_tools.contains(&id) {
            return Ok(()); // a repeated frame of a call already complete
        }
        match &self.open {
            Open::Tool { id: open, .. } if *open == id => {}
            Open::Tool { .. } => {
                self.buffer(id, name, input, stop);
                return Ok(());
            }
            _ => {
                self.flush_text(out);
                self.close(out)?;
                // Calls buffered before this frame go first, in arrival order.
                self.drain_pending(out)?;
                if self.finished_tools.contains(&id) {
                    return Ok(());
                }
                match &self.open {
                    Open::Tool { id: open, .. } if *open == id => {}
                    Open::Tool { .. } => {
                        self.buffer(id, name, input, stop);
                        return Ok(());
                    }
                    _ => self.open_live(id, name, String::new(), out),
                }
            }
        }
        if let Some(fragment) = input.filter(|f| !f.is_empty()) {
            self.fragment(fragment, out);
        }
        if stop {
            self.close(out)?;
            self.drain_pending(out)?;
        }
        Ok(())
    }

    fn buffer(&mut self, id: String, name: String, input: Option<String>, stop: bool) {
        let i = match self.pending.iter().position(|p| p.id == id) {
            Some(i) => i,
            None => {
                self.pending.push(PendingTool {
                    id,
                    name,
                    input: String::new(),
                    stopped: false,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[i];
        if let Some(fragment) = input {
            p.input.push_str(&fragment);
        }
        p.stopped |= stop;
    }

    /// Opens a tool block that streams live, starting with the input buffered so far.
    fn open_live(&mut self, id: String, name: String, input: String, out: &mut Vec<Event>) {
        self.saw_tool = true;
        let client_name = self.client_name(&name);
        self.open_block(
            BlockStart::ToolUse {
                id: id.clone(),
                name: client_name,
            },
            out,
        );
        self.open = Open::Tool {
            id,
            name,
            input: String::new(),
        };
        if !input.is_empty() {
            self.fragment(input, out);
        }
    }

    fn fragment(&mut self, fragment: String, out: &mut Vec<Event>) {
        if let Open::Tool { input, .. } = &mut self.open {
            input.push_str(&fragment);
            self.emitted.push_str(&fragment);
            out.push(Event::BlockDelta {
                index: self.index,
                delta: BlockDelta::InputJson(fragment),
            });
        }
    }

    /// Once no call is live: buffered calls that have ended are emitted whole, in order; the
    /// first one still going becomes the live one.
    pub(super) fn drain_pending(&mut self, out: &mut Vec<Event>) -> Result<(), Error> {
        while !matches!(self.open, Open::Tool { .. }) && !self.pending.is_empty() {
            let p = self.pending.remove(0);
            self.close(out)?;
            self.open_live(p.id, p.name, p.input, out);
            if !p.stopped {
                break;
            }
            self.close(out)?;
        }
        Ok(())
    }

    /// Ends the live call's block; its input must be a complete JSON object.
    pub(super) fn finish_tool(
        &mut self,
        id: String,
        name: &str,
        input: &str,
        out: &mut Vec<Event>,
    ) -> Result<(), Error> {
        if input.trim().is_empty() {
            self.emitted.push_str("{}");
            out.push(Event::BlockDelta {
                index: self.index,
                delta: BlockDelta::InputJson("{}".into()),
            });
        } else if !matches!(
            serde_json::from_str::<serde_json::Value>(input),
            Ok(serde_json::Value::Object(_))
        ) {
            return Err(protocol(format!(
                "the input of tool call `{}` ({id}) is not a complete JSON object: it was \
                 truncated by the upstream after {} bytes (retry, or ask for smaller tool \
                 inputs)",
                self.client_name(name),
                input.len()
            )));
        }
        self.finished_tools.insert(id);
        out.push(Event::BlockStop { index: self.index });
        Ok(())
    }
}
