//! Tool calls the model wrote as text instead of `toolUseEvent`s (spec §4.5): a
//! `<function_calls><invoke name="X"><parameter name="p">v</parameter></invoke></function_calls>`
//! block, or `<tool_use>{"name": …, "input": {…}}</tool_use>`. A block becomes real tool calls
//! only when every call in it names a tool of the request; anything else stays text, and so
//! does the text around a block.
//!
//! Text is streamed through: only from a `<` that may open such a block is it held back, until
//! the block closes or turns out to be something else.

use std::collections::HashMap;

use serde_json::{Map, Value};

const FUNCTION_CALLS: (&str, &str) = ("<function_calls>", "</function_calls>");
const TOOL_USE: (&str, &str) = ("<tool_use>", "</tool_use>");

/// A piece of scanned text, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum Scanned {
    Text(String),
    Call { name: String, input: Value },
}

#[derive(Debug, Default)]
pub struct TextCallScanner {
    /// Tool name (as the model knows it) → its input schema.
    tools: HashMap<String, Value>,
    buf: String,
}

impl TextCallScanner {
    /// With no tools the scanner passes everything through.
    pub fn new(tools: HashMap<String, Value>) -> Self {
        Self {
            tools,
            buf: String::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> Vec<Scanned> {
        let mut out = Vec::new();
        if self.tools.is_empty() {
            push_text(&mut out, text);
            return out;
        }
        self.buf.push_str(text);
        loop {
            match find_open(&self.buf) {
                Found::None => {
                    push_text(&mut out, &std::mem::take(&mut self.buf));
                    return out;
                }
                Found::Partial(i) => {
                    push_text(&mut out, &self.buf[..i]);
                    self.buf.drain(..i);
                    return out;
                }
                Found::Open(i, (open, close)) => {
                    let Some(end) = self.buf[i + open.len()..].find(close) else {
                        push_text(&mut out, &self.buf[..i]);
                        self.buf.drain(..i);
                        return out;
                    };
                    let end = i + open.len() + end + close.len();
                    push_text(&mut out, &self.buf[..i]);
                    let block: String = self.buf.drain(..end).skip(i).collect();
                    let inner = &block[open.len()..block.len() - close.len()];
                    let calls = if open == FUNCTION_CALLS.0 {
                        self.invokes(inner)
                    } else {
                        self.tool_use(inner)
                    };
                    match calls {
                        Some(calls) => out.extend(calls),
                        None => push_text(&mut out, &block),
                    }
                }
            }
        }
    }

    /// At the end of the text run: whatever is held back is text after all.
    pub fn flush(&mut self) -> Vec<Scanned> {
        let mut out = Vec::new();
        push_text(&mut out, &std::mem::take(&mut self.buf));
        out
    }

    /// `<invoke name="X">` elements; `None` unless there is at least one and all name tools.
    fn invokes(&self, mut inner: &str) -> Option<Vec<Scanned>> {
        let mut calls = Vec::new();
        while let Some(start) = inner.find("<invoke") {
            let (name, rest) = named_element(&inner[start..], "invoke")?;
            let schema = self.tools.get(&name)?;
            let end = rest.find("</invoke>")?;
            let mut body = &rest[..end];
            let mut input = Map::new();
            while let Some(p) = body.find("<parameter") {
                let (param, after) = named_element(&body[p..], "parameter")?;
                let close = after.find("</parameter>")?;
                input.insert(
                    param.clone(),
                    parameter_value(schema, &param, &after[..close]),
                );
                body = &after[close + "</parameter>".len()..];
            }
            calls.push(Scanned::Call {
                name,
                input: Value::Object(input),
            });
            inner = &rest[end + "</invoke>".len()..];
        }
        (!calls.is_empty() && inner.trim().is_empty()).then_some(calls)
    }

    /// `{"name": …, "input" | "arguments" | "parameters": {…}}`.
    fn tool_use(&self, inner: &str) -> Option<Vec<Scanned>> {
        let v: Value = serde_json::from_str(inner.trim()).ok()?;
        let name = v.get("name")?.as_str()?.to_string();
        self.tools.get(&name)?;
        let input = ["input", "arguments", "parameters"]
            .iter()
            .find_map(|k| v.get(*k))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let input = match input {
            Value::String(s) => serde_json::from_str(&s).ok()?,
            other => other,
        };
        input
            .is_object()
            .then(|| vec![Scanned::Call { name, input }])
    }
}

enum Found {
    None,
    /// A `<` at this byte offset may start an opening tag that has not fully arrived.
    Partial(usize),
    Open(usize, (&'static str, &'static str)),
}

fn find_open(buf: &str) -> Found {
    for (i, _) in buf.match_indices('<') {
        let rest = &buf[i..];
        for tags in [FUNCTION_CALLS, TOOL_USE] {
            if rest.starts_with(tags.0) {
                return Found::Open(i, tags);
            }
            if tags.0.starts_with(rest) {
                return Found::Partial(i);
            }
        }
    }
    Found::None
}

/// `<{element} name="N">` at the start of `s`: the name and what follows the tag.
fn named_element<'a>(s: &'a str, element: &str) -> Option<(String, &'a str)> {
    let rest = s.strip_prefix('<')?.strip_prefix(element)?;
    let tag_end = rest.find('>')?;
    let attrs = &rest[..tag_end];
    let value = attrs.trim().strip_prefix("name=")?;
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &value[1..];
    let name = &value[..value.find(quote)?];
    Some((name.to_string(), &rest[tag_end + 1..]))
}

/// A parameter's text as the schema types it: strings stay text; other types are read as JSON
/// when they parse (numbers, booleans, arrays, objects), else kept as text.
fn parameter_value(schema: &Value, name: &str, raw: &str) -> Value {
    let ty = schema
        .get("properties")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("type"));
    let is_string = match ty {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if is_string {
        return Value::String(raw.to_string());
    }
    let trimmed = raw.trim();
    let json_like = ty.is_some() || trimmed.starts_with('{') || trimmed.starts_with('[');
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) if json_like => v,
        _ => Value::String(raw.to_string()),
    }
}

fn push_text(out: &mut Vec<Scanned>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Scanned::Text(prev)) = out.last_mut() {
        prev.push_str(text);
    } else {
        out.push(Scanned::Text(text.to_string()));
    }
}

#[cfg(test)]
mod tests;
