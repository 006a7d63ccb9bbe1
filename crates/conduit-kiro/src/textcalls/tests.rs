use serde_json::json;

use super::*;

fn tools() -> HashMap<String, Value> {
    HashMap::from([
        (
            "Read".to_string(),
            json!({"type": "object", "properties": {
                "file_path": {"type": "string"}, "limit": {"type": "integer"}}}),
        ),
        (
            "Write".to_string(),
            json!({"type": "object", "properties": {
                "file_path": {"type": "string"}, "content": {"type": "string"}}}),
        ),
    ])
}

/// Feeds `chunks` (joined pieces of one kind merged) and compares with `want`.
fn check(chunks: &[&str], want: &[Scanned]) {
    let mut s = TextCallScanner::new(tools());
    let mut got: Vec<Scanned> = Vec::new();
    let mut pieces: Vec<Scanned> = chunks.iter().flat_map(|c| s.push(c)).collect();
    pieces.extend(s.flush());
    for piece in pieces {
        match (got.last_mut(), piece) {
            (Some(Scanned::Text(a)), Scanned::Text(b)) => a.push_str(&b),
            (_, piece) => got.push(piece),
        }
    }
    assert_eq!(got, want, "chunks {chunks:?}");
}

fn text(s: &str) -> Scanned {
    Scanned::Text(s.into())
}

fn call(name: &str, input: Value) -> Scanned {
    Scanned::Call {
        name: name.into(),
        input,
    }
}

#[test]
fn recovers_invoke_blocks() {
    let block = "<function_calls>\n<invoke name=\"Read\">\n<parameter name=\"file_path\">/tmp/a</parameter>\n<parameter name=\"limit\">10</parameter>\n</invoke>\n<invoke name=\"Write\"><parameter name=\"file_path\">/tmp/b</parameter><parameter name=\"content\">42\n</parameter></invoke>\n</function_calls>";
    let want = [
        text("Let me look. "),
        call("Read", json!({"file_path": "/tmp/a", "limit": 10})),
        call("Write", json!({"file_path": "/tmp/b", "content": "42\n"})),
        text(" done"),
    ];
    let whole = format!("Let me look. {block} done");
    check(&[&whole], &want);
    // Split everywhere, including inside the tags.
    let chars: Vec<String> = whole.chars().map(String::from).collect();
    let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
    check(&refs, &want);
}

#[test]
fn recovers_tool_use_json() {
    check(
        &["<tool_use>{\"name\": \"Read\", \"input\": {\"file_path\": \"x\"}}</tool_use>"],
        &[call("Read", json!({"file_path": "x"}))],
    );
    check(
        &[
            "a<tool_",
            "use>{\"name\":\"Read\",\"arguments\":\"{\\\"limit\\\":1}\"}</tool_use>b",
        ],
        &[text("a"), call("Read", json!({"limit": 1})), text("b")],
    );
}

#[test]
fn anything_else_stays_text() {
    let cases = [
        // Unknown tool.
        "<function_calls><invoke name=\"Bash\"><parameter name=\"command\">ls</parameter></invoke></function_calls>",
        // Not closed before the end.
        "<function_calls><invoke name=\"Read\">",
        // Not JSON.
        "<tool_use>Read it</tool_use>",
        // Unknown tool in JSON form.
        "<tool_use>{\"name\": \"Bash\", \"input\": {}}</tool_use>",
        // Other tags and lone brackets.
        "a < b and <b>bold</b> and <tool",
        "<function_calls></function_calls>",
    ];
    for case in cases {
        check(&[case], &[text(case)]);
    }
}

#[test]
fn without_tools_nothing_is_held() {
    let mut s = TextCallScanner::new(HashMap::new());
    assert_eq!(s.push("<function_"), vec![text("<function_")]);
    assert_eq!(s.flush(), vec![]);
}
