"""Native reasoning on an Opus-class model, with the official `anthropic` SDK (issue 9, item 2).

The simulator plays Kiro as spec §9.4/§9.5 describe it: asked through
`additionalModelRequestFields.output_config.effort`, the model streams `reasoningContentEvent`
frames (text, then a signature in several fragments) whose signature is the sim's own MAC over
the text; on a later turn it checks the replayed `reasoningContent.reasoningText{text,signature}`
and refuses a changed one with 400 THINKING_SIGNATURE_INVALID. So a signature that survives the
round trip is one that conduit passed through exactly, and a tampered one must reach the client
as a clear 400 after exactly one upstream call.
"""

from __future__ import annotations

import anthropic
import pytest

from conftest import tool_results

MODEL = "claude-opus-4-8"
THINKING = {"type": "enabled", "budget_tokens": 4096}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
FIRST_THOUGHT = "The user asks about Oslo. I should call get_weather with city Oslo."
SECOND_THOUGHT = "The tool said 3C and snow; answer briefly."
QUESTION = "What is the weather in Oslo right now?"


def script(sim) -> None:
    sim.rule({"reasoning": FIRST_THOUGHT, "signed": True},
             {"tool_use": {"name": "get_weather", "input": {"city": "Oslo"}}},
             id="call", match={"contains": "weather in Oslo", "has_tool_results": False})
    sim.rule({"reasoning": SECOND_THOUGHT, "signed": True}, {"text": "It is 3C and snowing in Oslo."},
             id="answer", match={"has_tool_results": True, "tool_result_contains": "snow"})


def history(entry: dict) -> list[dict]:
    return entry["body"]["conversationState"].get("history", [])


def first_turn(client: anthropic.Anthropic):
    """Streams the first turn; returns the final message and the SSE event types seen."""
    with client.messages.stream(model=MODEL, max_tokens=8192, thinking=THINKING, tools=[WEATHER_TOOL],
                                messages=[{"role": "user", "content": QUESTION}]) as s:
        kinds = [(e.type, getattr(getattr(e, "delta", None), "type", None)) for e in s]
        return s.get_final_message(), kinds


def follow_up(message, call, result: str = "3C, light snow") -> list[dict]:
    return [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": result}]},
    ]


def test_opus_streams_signed_reasoning_and_replays_it_through_a_tool_round_trip(sim, client):
    script(sim)

    first, kinds = first_turn(client)

    thinking = [b for b in first.content if b.type == "thinking"]
    assert len(thinking) == 1, first.content
    assert thinking[0].thinking == FIRST_THOUGHT
    assert len(thinking[0].signature) > 16, "the sim's signature, joined from its fragments"
    assert ("content_block_delta", "thinking_delta") in kinds
    assert ("content_block_delta", "signature_delta") in kinds
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Oslo"}
    assert first.stop_reason == "tool_use"
    [asked] = sim.chat_requests()
    # Reasoning was asked for natively, never as `thinking: adaptive`.
    fields = asked["body"].get("additionalModelRequestFields", {})
    assert fields.get("output_config", {}).get("effort"), asked["body"]
    assert "thinking" not in fields or fields["thinking"].get("type") != "adaptive", fields

    second = client.messages.create(model=MODEL, max_tokens=8192, thinking=THINKING, tools=[WEATHER_TOOL],
                                    messages=follow_up(first, call))

    assert [b.type for b in second.content] == ["thinking", "text"], second.content
    assert second.content[0].thinking == SECOND_THOUGHT and second.content[0].signature
    assert second.content[1].text == "It is 3C and snowing in Oslo."
    replayed = sim.chat_requests()[-1]
    assert replayed["rule"] == "answer" and replayed["status"] == 200
    assistant = history(replayed)[-1]["assistantResponseMessage"]
    # Nested exactly as Kiro wants it, with the signature exactly as the sim issued it.
    assert assistant["reasoningContent"] == {
        "reasoningText": {"text": FIRST_THOUGHT, "signature": thinking[0].signature}}, assistant
    assert assistant["toolUses"][0]["toolUseId"] == call.id
    assert "3C, light snow" in str(tool_results(replayed))


def test_a_tampered_signature_is_a_clear_400_after_one_upstream_call(sim, client):
    script(sim)
    first, _ = first_turn(client)
    [call] = [b for b in first.content if b.type == "tool_use"]
    messages = follow_up(first, call)
    block = next(b for b in messages[1]["content"] if b["type"] == "thinking")
    sig = block["signature"]
    block["signature"] = sig[:-4] + ("AAAA" if not sig.endswith("AAAA") else "BBBB")
    before = len(sim.chat_requests())

    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model=MODEL, max_tokens=8192, thinking=THINKING, tools=[WEATHER_TOOL],
                               messages=messages)

    assert err.value.status_code == 400
    assert err.value.body["error"]["type"] == "invalid_request_error", err.value.body
    assert "signature" in err.value.body["error"]["message"].lower(), err.value.body
    after = sim.chat_requests()[before:]
    assert len(after) == 1, f"no retry and no failover: {[(e['status'], e.get('rule')) for e in after]}"
    assert after[0]["status"] == 400
