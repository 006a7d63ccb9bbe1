//! Well-formedness of what a client receives, per dialect: the SSE grammar of a stream, or a
//! JSON success body / the dialect's error shape with a sane status. Each check returns the
//! outcome (success or error) or a description of what was malformed.

use serde_json::Value;

/// What a well-formed response turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Error,
}

pub type Checked = Result<Outcome, String>;

/// The dialect (and mode) a request was sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    AnthropicJson,
    AnthropicSse,
    ChatJson,
    ChatSse,
    ResponsesSse,
}

impl Dialect {
    pub fn streaming(self) -> bool {
        matches!(
            self,
            Dialect::AnthropicSse | Dialect::ChatSse | Dialect::ResponsesSse
        )
    }
}

/// Check a complete response (status, content type, body).
pub fn check(dialect: Dialect, status: u16, content_type: &str, body: &str) -> Checked {
    if status == 200 && content_type.starts_with("text/event-stream") {
        if !dialect.streaming() {
            return Err("a non-streaming request got an event stream".into());
        }
        return match dialect {
            Dialect::AnthropicSse => anthropic_sse(body),
            Dialect::ChatSse => chat_sse(body),
            _ => responses_sse(body),
        };
    }
    let json: Value = serde_json::from_str(body)
        .map_err(|e| format!("status {status}: body is not JSON ({e}): {body:.200}"))?;
    if status == 200 {
        return match dialect {
            Dialect::AnthropicJson => anthropic_message(&json),
            Dialect::ChatJson => chat_completion(&json),
            _ => Err(format!("a streaming request got a JSON 200: {body:.200}")),
        };
    }
    if !(400..=599).contains(&status) {
        return Err(format!("unexpected status {status}"));
    }
    match dialect {
        Dialect::AnthropicJson | Dialect::AnthropicSse => anthropic_error(&json),
        _ => openai_error(&json),
    }
    .map_err(|e| format!("status {status}: {e}"))
}

fn non_empty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn anthropic_error(v: &Value) -> Checked {
    if v["type"] == "error"
        && non_empty_str(&v["error"]["type"])
        && non_empty_str(&v["error"]["message"])
    {
        Ok(Outcome::Error)
    } else {
        Err(format!("not an Anthropic error: {v}"))
    }
}

fn openai_error(v: &Value) -> Checked {
    if non_empty_str(&v["error"]["message"]) && non_empty_str(&v["error"]["type"]) {
        Ok(Outcome::Error)
    } else {
        Err(format!("not an OpenAI error: {v}"))
    }
}

fn anthropic_message(v: &Value) -> Checked {
    let ok = v["type"] == "message"
        && v["role"] == "assistant"
        && v["content"].as_array().is_some_and(|c| !c.is_empty())
        && non_empty_str(&v["stop_reason"])
        && v["usage"]["output_tokens"].is_u64();
    ok.then_some(Outcome::Success)
        .ok_or_else(|| format!("not an Anthropic message: {v}"))
}

fn chat_completion(v: &Value) -> Checked {
    let ok = v["object"] == "chat.completion"
        && v["choices"][0]["message"]["role"] == "assistant"
        && non_empty_str(&v["choices"][0]["finish_reason"]);
    ok.then_some(Outcome::Success)
        .ok_or_else(|| format!("not a chat completion: {v}"))
}

/// `(event name, data)` per SSE event; comment-only events (`: ping`) are skipped.
fn events(body: &str) -> Result<Vec<(String, String)>, String> {
    if !body.is_empty() && !body.ends_with("\n\n") {
        return Err(format!("the stream ends mid-event: {:.200}", tail(body)));
    }
    let mut out = Vec::new();
    for chunk in body.split("\n\n").filter(|c| !c.trim().is_empty()) {
        let (mut name, mut data) = (String::new(), None::<String>);
        for line in chunk.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.get_or_insert_with(String::new).push_str(d);
            } else if !line.starts_with(':') {
                return Err(format!("not an SSE line: {line:.200}"));
            }
        }
        if let Some(d) = data {
            out.push((name, d));
        } else if !name.is_empty() {
            return Err(format!("event {name} without data"));
        }
    }
    Ok(out)
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(200);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

fn parse(name: &str, data: &str) -> Result<Value, String> {
    serde_json::from_str(data)
        .map_err(|e| format!("event {name}: data is not JSON ({e}): {data:.200}"))
}

/// message_start, content blocks (start, deltas, stop; never interleaved), message_delta,
/// message_stop — or the same cut short by one final `error` event.
fn anthropic_sse(body: &str) -> Checked {
    let evs = events(body)?;
    let mut open: Option<u64> = None;
    let mut started = false;
    let mut delta_seen = false;
    for (i, (name, data)) in evs.iter().enumerate() {
        let v = parse(name, data)?;
        if v["type"] != name.as_str() {
            return Err(format!("event {name} carries type {}", v["type"]));
        }
        let last = i + 1 == evs.len();
        match name.as_str() {
            "ping" => {}
            "error" => {
                anthropic_error(&v)?;
                return if last {
                    Ok(Outcome::Error)
                } else {
                    Err("events after error".into())
                };
            }
            "message_start" if !started && i == 0 => started = true,
            "content_block_start" if started && open.is_none() && !delta_seen => {
                open = v["index"].as_u64();
            }
            "content_block_delta" if open.is_some() && v["index"].as_u64() == open => {}
            "content_block_stop" if open.is_some() && v["index"].as_u64() == open => open = None,
            "message_delta" if started && open.is_none() && !delta_seen => delta_seen = true,
            "message_stop" if delta_seen && last => return Ok(Outcome::Success),
            _ => return Err(format!("event {name} out of order at {i}: {:.300}", body)),
        }
    }
    Err(format!(
        "the stream ended without message_stop or error: {:.300}",
        tail(body)
    ))
}

/// Chunks (`chat.completion.chunk`), then `[DONE]`; an error is `{"error": ...}` right before
/// `[DONE]`.
fn chat_sse(body: &str) -> Checked {
    let evs = events(body)?;
    let Some(((_, last), rest)) = evs.split_last() else {
        return Err("empty chat stream".into());
    };
    if last != "[DONE]" {
        return Err(format!(
            "the chat stream does not end with [DONE]: {:.200}",
            tail(body)
        ));
    }
    let mut finished = false;
    for (i, (_, data)) in rest.iter().enumerate() {
        let v = parse("chunk", data)?;
        if v.get("error").is_some() {
            openai_error(&v)?;
            return if i + 1 == rest.len() {
                Ok(Outcome::Error)
            } else {
                Err("chunks after error".into())
            };
        }
        if v["object"] != "chat.completion.chunk"
            || finished && !v["choices"].as_array().is_some_and(Vec::is_empty)
        {
            return Err(format!("bad chunk at {i}: {v}"));
        }
        if v["choices"][0]["finish_reason"].is_string() {
            finished = true;
        }
    }
    finished
        .then_some(Outcome::Success)
        .ok_or_else(|| "no finish_reason before [DONE]".into())
}

/// response.created, response.in_progress, …, then response.completed or response.failed
/// (nothing after); sequence numbers count up from 0.
fn responses_sse(body: &str) -> Checked {
    let evs = events(body)?;
    for (i, (name, data)) in evs.iter().enumerate() {
        let v = parse(name, data)?;
        if v["type"] != name.as_str() || v["sequence_number"].as_u64() != Some(i as u64) {
            return Err(format!("event {i} {name}: type/sequence_number wrong: {v}"));
        }
        let last = i + 1 == evs.len();
        match (i, name.as_str()) {
            (0, "response.created") | (1, "response.in_progress") => {}
            (0 | 1, _) => return Err(format!("stream starts with {name}")),
            (_, "response.completed") if last && v["response"]["status"] == "completed" => {
                return Ok(Outcome::Success)
            }
            (_, "response.failed") if last && non_empty_str(&v["response"]["error"]["message"]) => {
                return Ok(Outcome::Error)
            }
            (_, "response.completed" | "response.failed" | "response.created") => {
                return Err(format!("{name} at {i} of {}: {v}", evs.len()))
            }
            _ => {}
        }
    }
    Err(format!(
        "the Responses stream ended without completed/failed: {:.300}",
        tail(body)
    ))
}
