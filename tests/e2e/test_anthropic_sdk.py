"""The official `anthropic` Python SDK against conduit, with the Kiro simulator upstream."""

from __future__ import annotations

import base64
import struct
import time
import zlib

import anthropic
import httpx
import pytest

from conftest import current_message, header, tool_results

MODEL = "claude-sonnet-4-6"
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
        "required": ["city"],
    },
}


def ask(client: anthropic.Anthropic, stream: bool, **kw) -> anthropic.types.Message:
    """One Messages call, streamed or not; returns the final message either way."""
    kw.setdefault("model", MODEL)
    kw.setdefault("max_tokens", 1024)
    if not stream:
        return client.messages.create(**kw)
    with client.messages.stream(**kw) as s:
        return s.get_final_message()


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def text_of(message: anthropic.types.Message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


# ---------------------------------------------------------------------------------------------
# Success paths


@STREAM
def test_text(sim, client, stream):
    sim.rule({"text": "Hello from the e2e test.", "chunk": 4}, match={"contains": "say hello"})

    msg = ask(client, stream, messages=user("Please say hello."))

    assert text_of(msg) == "Hello from the e2e test."
    assert msg.role == "assistant" and msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    [req] = sim.chat_requests()
    assert "say hello" in current_message(req)["content"]


def test_stream_events_arrive_in_order(sim, client):
    sim.rule({"text": "one two three four", "chunk": 4})

    with client.messages.stream(model=MODEL, max_tokens=64, messages=user("count")) as s:
        kinds = [e.type for e in s if e.type != "ping"]
    deltas = kinds.count("content_block_delta")

    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1] == "content_block_start" and deltas >= 2, kinds


@STREAM
def test_tool_round_trip(sim, client, stream):
    weather = {"city": "Paris", "units": "metric"}
    sim.rule({"text": "Let me check."}, {"tool_use": {"name": "get_weather", "input": weather, "fragments": 3}},
             match={"contains": "weather in Paris", "has_tool_results": False})
    sim.rule({"text": "It is 18C and sunny in Paris."}, match={"has_tool_results": True, "tool_result_contains": "18C"})
    question = user("What is the weather in Paris?")

    first = ask(client, stream, messages=question, tools=[WEATHER_TOOL])
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use"
    assert call.name == "get_weather" and call.input == weather

    followup = question + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C, sunny"}]},
    ]
    final = ask(client, stream, messages=followup, tools=[WEATHER_TOOL])

    assert text_of(final) == "It is 18C and sunny in Paris."
    results = tool_results(sim.chat_requests()[-1])
    assert len(results) == 1 and "18C" in str(results[0]["content"])


@STREAM
def test_thinking(sim, client, stream):
    sim.rule({"thinking": "The user wants 2+2. That is 4.", "chunk": 5}, {"text": "4"})

    msg = ask(client, stream, messages=user("What is 2+2?"), max_tokens=4000,
              thinking={"type": "enabled", "budget_tokens": 2000})

    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert "That is 4" in msg.content[0].thinking and msg.content[0].signature
    assert msg.content[1].text.strip() == "4"


def test_count_tokens_grows_with_what_is_sent(client):
    def count(**kw) -> int:
        return client.messages.count_tokens(model=MODEL, **kw).input_tokens

    words = " ".join(["conduit"] * 200)
    base = count(messages=user(words))
    with_system = count(messages=user(words), system="You are a careful assistant. " * 20)
    with_tools = count(messages=user(words), tools=[WEATHER_TOOL])
    with_image = count(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_200}},
        {"type": "text", "text": words}]}])

    assert base >= 150, "200 words cannot be fewer than 150 tokens"
    assert with_system > base and with_tools > base and with_image > base


def test_models_list_offers_claude_models(client):
    """Kiro's live catalogue; `[1m]` ids only next to models whose window really is 1M."""
    models = {m.id: m for m in client.models.list(limit=1000)}
    assert any(i.startswith("claude-sonnet") for i in models), list(models)
    for id, m in models.items():
        if id.endswith("[1m]"):
            assert (m.model_extra or {}).get("context_window", 0) >= 1_000_000, m
            assert id.removesuffix("[1m]") in models, id


# ---------------------------------------------------------------------------------------------
# Upstream failures, as the client sees them

CONTEXT_OVERFLOW = {"status": 400, "body": {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}}
THROTTLED = {"status": 429, "body": {"message": "Too many requests, please wait before trying again.", "reason": None}}
HIGH_LOAD = {"status": 500, "body": {"message": "Encountered unexpectedly high load when processing the request, please try again.", "reason": None}}

ERROR_TABLE = [
    # (upstream http_error, SDK exception, status, error type, message fragment)
    pytest.param(CONTEXT_OVERFLOW, anthropic.BadRequestError, 400, "invalid_request_error", "prompt is too long", id="context-overflow"),
    pytest.param(THROTTLED, anthropic.RateLimitError, 429, "rate_limit_error", "", id="429-storm"),
    pytest.param(HIGH_LOAD, anthropic.OverloadedError, 529, "overloaded_error", "", id="500-storm"),
]


@STREAM
@pytest.mark.parametrize("upstream, exc, status, etype, fragment", ERROR_TABLE)
def test_upstream_error_mapping(sim, client, stream, upstream, exc, status, etype, fragment):
    sim.rule(http_error=upstream)

    with pytest.raises(exc) as err:
        ask(client, stream, messages=user("Hi"))

    assert err.value.status_code == status
    assert err.value.body["error"]["type"] == etype, err.value.body
    assert fragment in err.value.body["error"]["message"]


def test_key_as_bearer_token_is_accepted(sim, gateway):
    """`ANTHROPIC_AUTH_TOKEN` makes clients send `Authorization: Bearer` instead of `x-api-key`."""
    bearer = gateway.anthropic(api_key=None, auth_token=gateway.key)

    assert text_of(ask(bearer, False, messages=user("Hi")))


@pytest.mark.parametrize("token_usage, kind", [(True, "reported"), (False, "estimated")],
                         ids=["kiro-counts", "estimate"])
def test_access_line_has_credits_and_says_whose_counts(sim, gateway, client, token_usage, kind):
    """Kiro's meteringEvent credits and, when it sends no metadataEvent token counts, that the
    counts are conduit's estimate."""
    sim._post("/_sim/config", {"token_usage": token_usage})
    try:
        since = gateway.proc.size()
        sim.rule({"text": "Metered."}, match={"contains": "metered"})
        assert text_of(ask(client, False, messages=user("Please be metered."),
                           extra_headers={"x-claude-code-agent-id": "agent-e2e"})) == "Metered."
        deadline = time.monotonic() + 5
        while 'path="/v1/messages"' not in (lines := gateway.proc.output(since)):
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
    finally:
        sim._post("/_sim/config", {"token_usage": True})
    [line] = [l for l in lines.splitlines() if 'path="/v1/messages"' in l]
    assert f'usage="{kind}"' in line or f"usage={kind}" in line, line
    assert 'agent="agent-e2e"' in line or "agent=agent-e2e" in line, line
    credits = line.split("credits=")[1].split()[0].strip('"')
    assert float(credits) > 0, line


def test_wrong_api_key_is_401(sim, gateway):
    with pytest.raises(anthropic.AuthenticationError) as err:
        ask(gateway.anthropic(api_key="not-the-key"), False, messages=user("Hi"))

    assert err.value.status_code == 401
    assert sim.chat_requests() == [], "a rejected client must not reach the upstream"


@pytest.mark.parametrize("creds_say_expired", [False, True], ids=["upstream-rejects", "creds-expired"])
def test_expired_token_is_refreshed_transparently(sim, workdir, start_gateway, creds_say_expired):
    from datetime import datetime, timedelta, timezone

    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    acc = sim.account(workdir, expires_at=past if creds_say_expired else None)
    sim.expire(acc)
    gw = start_gateway(account=acc)

    msg = ask(gw.anthropic(), False, messages=user("Hi"))

    assert text_of(msg)
    assert len(sim.calls("/refreshToken")) == 1
    chats = sim.chat_requests()
    assert chats[-1]["status"] == 200
    assert acc.access_token not in header(chats[-1], "authorization"), "the retry must use the new token"
    if creds_say_expired:
        assert len(chats) == 1, "a token known to be expired should be refreshed before it is used"


def test_slow_first_token_is_retried(sim, start_gateway):
    gw = start_gateway({"FIRST_TOKEN_TIMEOUT": "2", "FIRST_TOKEN_MAX_RETRIES": "1"})
    sim.rule({"delay_ms": 8000}, {"text": "too late"}, times=1)
    sim.rule({"text": "second try"})

    msg = ask(gw.anthropic(), True, messages=user("Hi"))

    assert text_of(msg) == "second try"
    assert len(sim.chat_requests()) == 2


@pytest.mark.parametrize("breakage, etype", [
    pytest.param({"cut": True}, "api_error", id="cut"),
    pytest.param({"exception": {"type": "ThrottlingException", "message": "Too many requests, please wait."}},
                 "rate_limit_error", id="throttled-mid-stream"),
])
def test_broken_stream_ends_in_an_error_event(sim, client, breakage, etype):
    sim.rule({"text": "partial answer"}, breakage)

    started = time.monotonic()
    with pytest.raises(anthropic.APIStatusError) as err:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=user("Hi"), timeout=30) as s:
            for _ in s:
                pass

    assert time.monotonic() - started < 25, "the gateway should notice the break, not wait for a timeout"
    assert err.value.body["error"]["type"] == etype, err.value.body


def test_pings_while_upstream_is_silent(sim, gateway):
    """With CONDUIT_PING_INTERVAL_MS=500, a 3 s silence must carry several pings."""
    sim.rule({"text": "first"}, {"delay_ms": 3000}, {"text": " second"})
    body = {"model": MODEL, "max_tokens": 64, "stream": True, "messages": user("Hi")}
    headers = {"x-api-key": gateway.key, "anthropic-version": "2023-06-01"}

    events: list[tuple[float, str]] = []
    started = time.monotonic()
    with httpx.stream("POST", gateway.url + "/v1/messages", json=body, headers=headers, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event:"):
                events.append((time.monotonic() - started, line.split(":", 1)[1].strip()))

    names = [e for _, e in events]
    deltas = [i for i, e in enumerate(names) if e == "content_block_delta"]
    pings_in_silence = names[deltas[0]:deltas[-1]].count("ping")
    assert names[-1] == "message_stop", names
    assert len(deltas) >= 2 and pings_in_silence >= 3, events


def _png(width: int, height: int) -> str:
    """A grey PNG, base64: big enough that a token estimate must notice it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


PNG_200 = _png(200, 200)
