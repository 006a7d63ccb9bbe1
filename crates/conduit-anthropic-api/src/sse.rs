//! Server-sent events → (`event`, `data`) pairs, for bytes pushed in arbitrary chunks. Only what
//! Messages streams use: `event:` and `data:` lines (several `data:` lines join with `\n`),
//! comments ignored, `\n` or `\r\n` line ends.

use bytes::{Buf, Bytes, BytesMut};

/// One event: its name (`message_start`; `message` when absent) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub name: String,
    pub data: Bytes,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: BytesMut,
    name: Option<String>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events completed by `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let mut line = self.buf.split_to(pos + 1);
            line.truncate(pos);
            if line.last() == Some(&b'\r') {
                line.truncate(pos - 1);
            }
            if let Some(ev) = self.line(&line) {
                out.push(ev);
            }
        }
        out
    }

    /// At the end of the body: the last event if it was not closed by a blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            let rest = rest
                .chunk()
                .strip_suffix(b"\r")
                .unwrap_or(rest.chunk())
                .to_vec();
            if let Some(ev) = self.line(&rest) {
                return Some(ev);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"event" => self.name = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let name = self.name.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            name: name.unwrap_or_else(|| "message".to_owned()),
            data: Bytes::from(std::mem::take(&mut self.data)),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BODY: &[u8] = b"event: message_start\ndata: {\"a\":1}\n\n: comment\nevent: ping\r\ndata: {}\r\n\r\ndata: x\ndata: y\n\nevent: message_stop\ndata: {}";

    fn decode(parts: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out: Vec<SseEvent> = parts.iter().flat_map(|p| d.push(p)).collect();
        out.extend(d.finish());
        out
    }

    #[test]
    fn events() {
        let got: Vec<(String, String)> = decode(&[BODY])
            .into_iter()
            .map(|e| {
                (
                    e.name,
                    String::from_utf8(e.data.to_vec()).unwrap_or_default(),
                )
            })
            .collect();
        let want = [
            ("message_start", "{\"a\":1}"),
            ("ping", "{}"),
            ("message", "x\ny"),
            ("message_stop", "{}"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(cut1 in 0..BODY.len(), cut2 in 0..BODY.len()) {
            let (a, b) = (cut1.min(cut2), cut1.max(cut2));
            prop_assert_eq!(decode(&[BODY]), decode(&[&BODY[..a], &BODY[a..b], &BODY[b..]]));
        }
    }
}
