"""Amazon Bedrock (and the Anthropic API) as conduit's upstream, through real clients.

The gateway runs with a config file whose Bedrock upstream points at the simulator's Bedrock
runtime (`{sim}/region/us-east-1`), signing with the sim's AWS test credentials. The sim verifies
the SigV4 signature for real, enforces Bedrock's body rules, signs thinking and checks replayed
signatures, and keeps a prompt cache; its log holds every call with the usage it reported.
"""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from conftest import ANTHROPIC_TEST_API_KEY, bedrock_calls

MODEL = "claude-opus-4-7"

BEDROCK = """
[[upstreams]]
name = "bedrock-us"
kind = "bedrock"
region = "us-east-1"
endpoint = "{sim}/region/us-east-1"
models = { "gpt-5-codex" = "us.anthropic.claude-sonnet-4-6" }
"""

ANTHROPIC_API = """
[[upstreams]]
name = "anthropic"
kind = "anthropic"
base_url = "{sim}/anthropic"
api_key_env = "ANTHROPIC_TEST_KEY"
"""


@pytest.fixture
def bedrock(configured_gateway):
    return configured_gateway(BEDROCK)


def ask(text: str, **kw) -> dict:
    return {"model": MODEL, "max_tokens": 2048, "messages": [{"role": "user", "content": text}], **kw}


def test_a_thinking_signature_survives_byte_for_byte(sim, bedrock):
    sim.rule({"reasoning": "The answer is forty-two.", "chunk": 7}, {"text": "42"},
             match={"contains": "meaning of life", "has_tool_results": False})
    sim.rule({"text": "Glad you agree."}, match={"contains": "agree"})
    client = bedrock.anthropic()
    first = [{"role": "user", "content": "What is the meaning of life?"}]

    with client.messages.stream(**ask("", messages=first,
                                      thinking={"type": "enabled", "budget_tokens": 1024})) as s:
        answer = s.get_final_message()

    thinking = next(b for b in answer.content if b.type == "thinking")
    assert thinking.thinking == "The answer is forty-two."
    assert thinking.signature
    # Replayed in the next turn: the sim refuses any signature it did not issue for that text.
    history = first + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
                       {"role": "user", "content": "I agree."}]
    second = client.messages.create(**ask("", messages=history,
                                          thinking={"type": "enabled", "budget_tokens": 1024}))
    assert second.content[-1].text == "Glad you agree."
    replayed = bedrock_calls(sim)[-1]["body"]["messages"][1]["content"]
    sent = next(b for b in replayed if b["type"] == "thinking")
    assert sent["signature"] == thinking.signature and sent["thinking"] == thinking.thinking


def test_tools_round_trip(sim, bedrock):
    sim.rule({"tool_use": {"name": "get_weather", "input": {"city": "Paris"}}},
             match={"contains": "weather", "has_tool_results": False})
    sim.rule({"text": "It is sunny in Paris."}, match={"tool_result_contains": "sunny"})
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}]
    client = bedrock.anthropic()
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]

    call = client.messages.create(**ask("", messages=messages, tools=tools))
    assert call.stop_reason == "tool_use"
    use = next(b for b in call.content if b.type == "tool_use")
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in call.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "sunny, 24 C"}]}]
    with client.messages.stream(**ask("", messages=messages, tools=tools)) as s:
        final = s.get_final_message()

    assert final.content[-1].text == "It is sunny in Paris."
    assert final.stop_reason == "end_turn"


def test_cache_tokens_are_the_simulators(sim, bedrock):
    system = [{"type": "text", "text": "You are a careful assistant. " * 200,
               "cache_control": {"type": "ephemeral"}}]
    client = bedrock.anthropic()

    with client.messages.stream(**ask("Hello there", system=system)) as s:
        written = s.get_final_message().usage
    read = client.messages.create(**ask("Hello again", system=system)).usage

    logged = [c["usage"] for c in bedrock_calls(sim)]
    assert len(logged) == 2
    assert written.cache_creation_input_tokens == logged[0]["cache_creation_input_tokens"] > 0
    assert written.cache_read_input_tokens == 0
    assert written.input_tokens == logged[0]["input_tokens"]
    assert read.cache_read_input_tokens == logged[1]["cache_read_input_tokens"] == \
        logged[0]["cache_creation_input_tokens"]
    assert read.input_tokens == logged[1]["input_tokens"]


def test_count_tokens_is_the_simulators_number(sim, bedrock):
    body = {"model": MODEL, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Count me, please: " + "word " * 300}]}
    client = bedrock.anthropic()

    counted = client.messages.count_tokens(**body).input_tokens
    client.messages.create(max_tokens=64, **body)

    assert len(bedrock_calls(sim, "count-tokens")) == 1
    usage = bedrock_calls(sim)[-1]["usage"]
    assert counted == usage["input_tokens"] + usage["cache_creation_input_tokens"] + \
        usage["cache_read_input_tokens"]


def test_an_invalid_beta_is_learned_and_retried_once(sim, bedrock):
    client = bedrock.anthropic()
    beta = {"anthropic-beta": "fast-mode-2026-02-01,interleaved-thinking-2025-05-14"}

    first = client.messages.create(**ask("Hello"), extra_headers=beta)
    calls = bedrock_calls(sim)
    assert first.content[-1].text
    assert len(calls) == 2, [c["status"] for c in calls]
    assert calls[0]["status"] == 400 and "fast-mode-2026-02-01" in calls[0]["body"]["anthropic_beta"]
    assert calls[1]["status"] == 200 and "fast-mode-2026-02-01" not in calls[1]["body"].get("anthropic_beta", [])

    client.messages.create(**ask("Hello again"), extra_headers=beta)
    calls = bedrock_calls(sim)[2:]
    assert len(calls) == 1 and calls[0]["status"] == 200
    assert calls[0]["body"].get("anthropic_beta") == ["interleaved-thinking-2025-05-14"]


def test_the_openai_sdk_reaches_bedrock(sim, bedrock):
    sim.rule({"text": "Bonjour from Bedrock."}, match={"contains": "French"})
    client = bedrock.openai()

    done = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello in French."}])
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model=MODEL, stream=True, messages=[{"role": "user", "content": "Say hello in French."}])
        if c.choices)

    assert done.choices[0].message.content == "Bonjour from Bedrock."
    assert streamed == "Bonjour from Bedrock."
    calls = bedrock_calls(sim)
    assert len(calls) == 2 and all(c["path"].startswith("/model/us.anthropic.claude-opus-4-7/") for c in calls)


def test_a_wrong_aws_secret_is_named_in_each_dialect(sim, configured_gateway):
    gw = configured_gateway(BEDROCK, aws_secret="wrongSecretKey/0123456789EXAMPLEEXAMPLE")

    with pytest.raises(anthropic.APIStatusError) as a:
        gw.anthropic().messages.create(**ask("Hello"))
    with pytest.raises(openai.APIStatusError) as o:
        gw.openai().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.APIStatusError) as r:
        gw.openai().responses.create(model=MODEL, input="Hi")

    for err in (a.value, o.value, r.value):
        # The gateway's AWS credentials were refused, not the client's key: never a 401.
        assert err.status_code == 403, err
        text = str(err.body)
        assert "InvalidSignatureException" in text or "Secret Access Key" in text, text
        assert "AWS" in text, text
    assert a.value.body["type"] == "error" and a.value.body["error"]["type"] == "permission_error"
    assert "error" in o.value.body or "message" in o.value.body


def test_the_anthropic_api_upstream_passes_errors_unmodified(sim, configured_gateway):
    gw = configured_gateway(ANTHROPIC_API)
    sim.rule({"text": "Hello from the Messages API."}, match={"contains": "Hi there"})
    client = gw.anthropic()

    ok = client.messages.create(**ask("Hi there", model="claude-sonnet-4-6"))
    assert ok.content[-1].text == "Hello from the Messages API."

    refusal = {"type": "error", "error": {"type": "invalid_request_error",
                                          "message": "messages.0.content: scripted refusal"}}
    sim.rule(http_error={"status": 400, "body": refusal}, match={"contains": "refuse me"})
    body = ask("refuse me", model="claude-sonnet-4-6")
    direct = httpx.post(f"{sim.url}/anthropic/v1/messages", json=body, timeout=10,
                        headers={"x-api-key": ANTHROPIC_TEST_API_KEY, "anthropic-version": "2023-06-01"})
    via = httpx.post(f"{gw.url}/v1/messages", json=body, timeout=10,
                     headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"})

    assert direct.status_code == via.status_code == 400
    assert json.loads(via.content) == json.loads(direct.content)


def test_claude_code_does_a_tool_round_trip_on_bedrock(sim, bedrock, tmp_path):
    from test_claude_code import write_round_trip

    write_round_trip(sim, bedrock, tmp_path, "hello from bedrock")

    rules = [c.get("rule") for c in bedrock_calls(sim) if c["status"] == 200]
    assert rules.count("write") == 1 and rules.count("answer") == 1, rules
    # Claude Code asks for adaptive thinking: the sim's signed thinking came back in the second
    # request and was accepted (the sim refuses any signature it did not issue).
    answered = next(c for c in bedrock_calls(sim) if c.get("rule") == "answer")
    blocks = [b for m in answered["body"]["messages"] if m["role"] == "assistant"
              for b in m["content"] if isinstance(b, dict)]
    assert any(b.get("type") == "tool_use" for b in blocks), blocks
    assert any(b.get("type") == "thinking" and b.get("signature") for b in blocks), blocks
    # Claude Code marks its prompt for caching; the first call wrote the cache as the sim says.
    write = next(c for c in bedrock_calls(sim) if c.get("rule") == "write")
    assert write["usage"]["cache_creation_input_tokens"] > 0, write["usage"]


def test_codex_runs_a_shell_command_on_bedrock(sim, bedrock, tmp_path):
    from test_codex import COMMAND, run_codex

    cwd = tmp_path / "project"
    cwd.mkdir()
    sim.rule({"text": "Done."}, id="answer",
             match={"has_tool_results": True, "tool_result_contains": "exited with code 0"})
    sim.rule({"tool_use": {"name": "exec_command", "input": {"cmd": COMMAND}}}, id="exec",
             match={"contains": "codex_out.txt", "has_tool_results": False})

    done = run_codex(bedrock, cwd, "Create the file codex_out.txt containing exactly: hello from codex")

    assert done.returncode == 0, f"codex failed:\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert (cwd / "codex_out.txt").read_text() == "hello from codex"
    calls = bedrock_calls(sim)
    rules = [c.get("rule") for c in calls]
    assert rules.count("exec") == 1 and rules.count("answer") == 1, rules
    assert all(c["path"].startswith("/model/us.anthropic.claude-sonnet-4-6/") for c in calls)
