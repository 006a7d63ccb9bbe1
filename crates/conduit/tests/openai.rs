//! OpenAI dialect stories: Chat Completions and Responses through conduit to the simulator.

mod harness;

use harness::{parse_sse, KEY};
use serde_json::{json, Value};

fn openai_post(gw: &harness::Gateway, path: &str) -> reqwest::RequestBuilder {
    gw.http.post(format!("{}{path}", gw.url)).bearer_auth(KEY)
}

#[tokio::test]
async fn chat_completion_text_and_stream() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"contains": "hello"}, "reply": [{"text": "Hi from Kiro."}]}))
        .await;
    let r = openai_post(&gw, "/v1/chat/completions")
        .json(&json!({"model": "claude-sonnet-4-5", "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hi from Kiro.");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let text = openai_post(&gw, "/v1/chat/completions")
        .json(&json!({"model": "claude-sonnet-4-5", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hi from Kiro.");
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn chat_streaming_tool_call_joins_to_the_simulators_object() {
    let gw = harness::start().await;
    let args = json!({"path": "src/main.rs", "lines": [1, 2, 3]});
    gw.rule(json!({"match": {"has_tool_results": false},
        "reply": [{"tool_use": {"name": "read_file", "input": args, "fragments": 5}}]}))
        .await;
    let text = openai_post(&gw, "/v1/chat/completions")
        .json(&json!({"model": "gpt-4o", "stream": true,
            "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}],
            "messages": [{"role": "user", "content": "read main"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut joined = String::new();
    let mut finish = None;
    for d in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if d == "[DONE]" {
            continue;
        }
        let c: Value = serde_json::from_str(d).unwrap();
        if let Some(a) = c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        {
            joined.push_str(a);
        }
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), args);
    assert_eq!(finish.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn responses_stream_with_function_call_and_output_turn() {
    let gw = harness::start().await;
    gw.rule(json!({"match": {"has_tool_results": false},
        "reply": [{"tool_use": {"name": "exec_command", "input": {"cmd": "ls"}}}]}))
        .await;
    gw.rule(json!({"match": {"has_tool_results": true}, "reply": [{"text": "Listed."}]}))
        .await;
    let tools = json!([{"type": "function", "name": "exec_command", "description": "Run a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
        {"type": "web_search"}]);
    let text = openai_post(&gw, "/v1/responses")
        .json(&json!({"model": "gpt-5-codex", "stream": true, "store": false, "tools": tools,
            "instructions": "You are Codex.",
            "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandboxed"}]},
                      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..2],
        &["response.created", "response.in_progress"],
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"response.completed"));
    assert!(names.contains(&"response.function_call_arguments.delta"));
    let done = events
        .iter()
        .find(|(n, d)| n == "response.output_item.done" && d["item"]["type"] == "function_call")
        .unwrap();
    let call_id = done.1["item"]["call_id"].as_str().unwrap().to_string();
    assert_eq!(done.1["item"]["arguments"], "{\"cmd\":\"ls\"}");

    let r = openai_post(&gw, "/v1/responses")
        .json(&json!({"model": "gpt-5-codex", "store": false, "tools": tools,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
                      {"type": "function_call", "call_id": call_id, "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
                      {"type": "function_call_output", "call_id": call_id, "output": "a.txt\nb.txt"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "completed");
    let sent = gw.chat_requests().await;
    let results = &sent[1]["body"]["conversationState"]["currentMessage"]["userInputMessage"]
        ["userInputMessageContext"]["toolResults"];
    assert_eq!(results[0]["toolUseId"], call_id);
}

#[tokio::test]
async fn models_shape_follows_the_client() {
    let gw = harness::start().await;
    let openai: Value = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
    let anthropic: Value = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["has_more"], false);
}

#[tokio::test]
async fn openai_errors_in_openai_shape() {
    let gw = harness::start().await;
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("wrong")
        .json(&json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string() && body.get("type").is_none());
    let r = openai_post(&gw, "/v1/chat/completions")
        .json(&json!({"model": "x", "n": 2, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains('n'));
}
