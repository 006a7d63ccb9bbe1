//! Splits the model's text stream into reasoning and answer: a `<thinking>…</thinking>` block at
//! the very start of the response (after optional whitespace) is reasoning, everything else is
//! answer text. Tags may be split across frames (`<thin` | `king>`).
//!
//! Only a block at the start counts, so an answer that merely talks about the tag is left alone.
//! The newline after `<thinking>` and up to two newlines after `</thinking>` are dropped.

const OPEN: &str = "<thinking>";
const CLOSE: &str = "</thinking>";

/// A piece of parsed output, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Thinking(String),
    /// The reasoning block is complete.
    ThinkingEnd,
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not yet known whether the response opens with `<thinking>`.
    Detect,
    Thinking,
    Text,
}

#[derive(Debug)]
pub struct ThinkingParser {
    phase: Phase,
    buf: String,
    /// Newlines still to drop at the start of the next text (1 after the open tag, 2 after close).
    skip_newlines: u8,
}

impl ThinkingParser {
    /// With `enabled == false` everything is passed through as text.
    pub fn new(enabled: bool) -> Self {
        Self {
            phase: if enabled { Phase::Detect } else { Phase::Text },
            buf: String::new(),
            skip_newlines: 0,
        }
    }

    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        self.buf.push_str(text);
        loop {
            match self.phase {
                Phase::Detect => {
                    let trimmed = self.buf.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.buf = rest.to_string();
                        self.phase = Phase::Thinking;
                        self.skip_newlines = 1;
                        continue;
                    }
                    if !trimmed.is_empty() && OPEN.starts_with(trimmed) {
                        return out; // maybe a split tag: wait for more
                    }
                    if trimmed.is_empty() {
                        return out; // only whitespace so far
                    }
                    self.phase = Phase::Text;
                }
                Phase::Thinking => {
                    self.skip_leading_newlines();
                    if let Some(i) = self.buf.find(CLOSE) {
                        let thinking: String = self.buf[..i].to_string();
                        self.buf.drain(..i + CLOSE.len());
                        push_thinking(&mut out, thinking);
                        out.push(Piece::ThinkingEnd);
                        self.phase = Phase::Text;
                        self.skip_newlines = 2;
                        continue;
                    }
                    // Hold back a suffix that may be the start of the close tag.
                    let keep = partial_suffix(&self.buf, CLOSE);
                    let emit: String = self.buf.drain(..self.buf.len() - keep).collect();
                    push_thinking(&mut out, emit);
                    return out;
                }
                Phase::Text => {
                    self.skip_leading_newlines();
                    if !self.buf.is_empty() {
                        out.push(Piece::Text(std::mem::take(&mut self.buf)));
                    }
                    return out;
                }
            }
        }
    }

    /// Flushes held-back text at the end of the text run (a tool call or the end of the body).
    /// An unclosed reasoning block is closed; a lone partial tag becomes text.
    pub fn flush(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Detect => {
                let rest = std::mem::take(&mut self.buf);
                if !rest.trim().is_empty() {
                    out.push(Piece::Text(rest));
                }
            }
            Phase::Thinking => {
                push_thinking(&mut out, std::mem::take(&mut self.buf));
                out.push(Piece::ThinkingEnd);
            }
            Phase::Text => {
                if !self.buf.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut self.buf)));
                }
            }
        }
        self.phase = Phase::Text;
        self.skip_newlines = 0;
        out
    }

    fn skip_leading_newlines(&mut self) {
        while self.skip_newlines > 0 && !self.buf.is_empty() {
            if self.buf.starts_with('\n') {
                self.buf.remove(0);
                self.skip_newlines -= 1;
            } else {
                self.skip_newlines = 0;
            }
        }
    }
}

fn push_thinking(out: &mut Vec<Piece>, text: String) {
    if !text.is_empty() {
        out.push(Piece::Thinking(text));
    }
}

/// Length of the longest proper suffix of `buf` that is a prefix of `tag`.
fn partial_suffix(buf: &str, tag: &str) -> usize {
    (1..tag.len().min(buf.len() + 1))
        .rev()
        .find(|&n| buf.is_char_boundary(buf.len() - n) && tag.starts_with(&buf[buf.len() - n..]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` and returns the pieces with adjacent same-kind pieces joined.
    fn check(enabled: bool, chunks: &[&str], expected: &[Piece]) {
        let mut p = ThinkingParser::new(enabled);
        let mut pieces: Vec<Piece> = chunks.iter().flat_map(|c| p.push(c)).collect();
        pieces.extend(p.flush());
        let mut joined: Vec<Piece> = Vec::new();
        for piece in pieces {
            match (joined.last_mut(), piece) {
                (Some(Piece::Thinking(a)), Piece::Thinking(b)) => a.push_str(&b),
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, piece) => joined.push(piece),
            }
        }
        assert_eq!(joined, expected, "chunks {chunks:?}");
    }

    fn th(s: &str) -> Piece {
        Piece::Thinking(s.into())
    }
    fn tx(s: &str) -> Piece {
        Piece::Text(s.into())
    }

    #[test]
    fn splits_reasoning_from_answer() {
        let end = Piece::ThinkingEnd;
        check(
            true,
            &["<thinking>\nhmm</thinking>\n\nHi"],
            &[th("hmm"), end.clone(), tx("Hi")],
        );
        check(
            true,
            &["<thin", "king>", "\nhm", "m</thi", "nking>\n", "\nHi"],
            &[th("hmm"), end.clone(), tx("Hi")],
        );
        check(
            true,
            &["  <thinking>a < b</thinking>Hi"],
            &[th("a < b"), end.clone(), tx("Hi")],
        );
        check(
            true,
            &["<thinking>\nunclosed"],
            &[th("unclosed"), end.clone()],
        );
        check(
            true,
            &["<thinking>x</thinking>\n\n\nHi"],
            &[th("x"), end.clone(), tx("\nHi")],
        );
        check(
            true,
            &["Hello <thinking>x</thinking>"],
            &[tx("Hello <thinking>x</thinking>")],
        );
        check(true, &["<thi"], &[tx("<thi")]);
        check(true, &["<", "b>bold"], &[tx("<b>bold")]);
        check(true, &["\n\n"], &[]);
        check(
            false,
            &["<thinking>x</thinking>"],
            &[tx("<thinking>x</thinking>")],
        );
        check(
            true,
            &["<thinking>é</thinkin", "g>ü"],
            &[th("é"), end, tx("ü")],
        );
    }
}
