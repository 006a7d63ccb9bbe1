"""The official `openai` Python SDK against conduit's OpenAI dialects (Chat Completions, Responses)."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import tool_results
from test_anthropic_sdk import CONTEXT_OVERFLOW, HIGH_LOAD, THROTTLED, WEATHER_TOOL

MODEL = "claude-sonnet-4-6"
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
FUNCTION = {"type": "function", "function": {
    "name": WEATHER_TOOL["name"], "description": WEATHER_TOOL["description"],
    "parameters": WEATHER_TOOL["input_schema"]}}


def chat(oa: openai.OpenAI, stream: bool, **kw) -> dict:
    """One Chat Completions call; returns the assistant message as a dict, with finish_reason."""
    kw.setdefault("model", MODEL)
    if not stream:
        choice = oa.chat.completions.create(**kw).choices[0]
        return {**choice.message.model_dump(exclude_none=True), "finish_reason": choice.finish_reason}
    text, calls, finish = "", {}, None
    for chunk in oa.chat.completions.create(stream=True, **kw):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
                call["id"] += tc.id or ""
                call["function"]["name"] += (tc.function and tc.function.name) or ""
                call["function"]["arguments"] += (tc.function and tc.function.arguments) or ""
            finish = choice.finish_reason or finish
    message = {"role": "assistant", "content": text or None, "finish_reason": finish}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message


@STREAM
def test_chat_text(sim, gateway, stream):
    sim.rule({"text": "Hello from the e2e test.", "chunk": 4}, match={"contains": "say hello"})

    answer = chat(gateway.openai(), stream, messages=[{"role": "user", "content": "Please say hello."}])

    assert answer["content"] == "Hello from the e2e test."
    assert answer["finish_reason"] == "stop"


@STREAM
def test_chat_tool_round_trip(sim, gateway, stream):
    weather = {"city": "Paris", "units": "metric"}
    sim.rule({"tool_use": {"name": "get_weather", "input": weather, "fragments": 3}},
             match={"contains": "weather in Paris", "has_tool_results": False})
    sim.rule({"text": "It is 18C and sunny in Paris."}, match={"tool_result_contains": "18C"})
    oa = gateway.openai()
    messages = [{"role": "system", "content": "Use tools."},
                {"role": "user", "content": "What is the weather in Paris?"}]

    first = chat(oa, stream, messages=messages, tools=[FUNCTION])
    [call] = first["tool_calls"]
    assert first["finish_reason"] == "tool_calls"
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == weather

    first.pop("finish_reason")
    messages += [first, {"role": "tool", "tool_call_id": call["id"], "content": "18C, sunny"}]
    final = chat(oa, stream, messages=messages, tools=[FUNCTION])

    assert final["content"] == "It is 18C and sunny in Paris."
    assert "18C" in str(tool_results(sim.chat_requests()[-1]))


@STREAM
def test_responses_text(sim, gateway, stream):
    sim.rule({"text": "Hello from the e2e test.", "chunk": 4}, match={"contains": "say hello"})
    oa = gateway.openai()

    if stream:
        with oa.responses.stream(model=MODEL, input="Please say hello.") as s:
            response = s.get_final_response()
    else:
        response = oa.responses.create(model=MODEL, input="Please say hello.")

    assert response.output_text == "Hello from the e2e test."
    assert response.status == "completed"


def test_responses_stream_function_call_and_output_turn(sim, gateway):
    weather = {"city": "Paris", "units": "metric"}
    sim.rule({"text": "Let me check."}, {"tool_use": {"name": "get_weather", "input": weather, "fragments": 4}},
             match={"contains": "weather in Paris", "has_tool_results": False})
    sim.rule({"text": "18C and sunny."}, match={"tool_result_contains": "18C"})
    oa = gateway.openai()
    tool = {"type": "function", "name": WEATHER_TOOL["name"], "description": WEATHER_TOOL["description"],
            "parameters": WEATHER_TOOL["input_schema"]}
    question = [{"role": "user", "content": "What is the weather in Paris?"}]

    arg_deltas = []
    with oa.responses.stream(model=MODEL, input=question, tools=[tool]) as s:
        for event in s:
            if event.type == "response.function_call_arguments.delta":
                arg_deltas.append(event.delta)
        first = s.get_final_response()
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == weather
    assert json.loads("".join(arg_deltas)) == weather

    with oa.responses.stream(model=MODEL, tools=[tool], previous_response_id=first.id, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C, sunny"}]) as s:
        final = s.get_final_response()

    assert final.output_text == "18C and sunny."
    results = tool_results(sim.chat_requests()[-1])
    assert results and "18C" in str(results)


@pytest.mark.parametrize("upstream, exc, status", [
    pytest.param(CONTEXT_OVERFLOW, openai.BadRequestError, 400, id="context-overflow"),
    pytest.param(THROTTLED, openai.RateLimitError, 429, id="429-storm"),
    pytest.param(HIGH_LOAD, openai.InternalServerError, 503, id="500-storm"),
])
def test_chat_upstream_errors(sim, gateway, upstream, exc, status):
    sim.rule(http_error=upstream)

    with pytest.raises(exc) as err:
        chat(gateway.openai(), False, messages=[{"role": "user", "content": "Hi"}])

    assert err.value.status_code == status


def test_chat_wrong_api_key_is_401(sim, gateway):
    with pytest.raises(openai.AuthenticationError):
        chat(gateway.openai(api_key="not-the-key"), False, messages=[{"role": "user", "content": "Hi"}])
    assert sim.chat_requests() == []
