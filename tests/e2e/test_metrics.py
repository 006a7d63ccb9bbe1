"""`GET /metrics`: requests through the gateway move the Prometheus counters, and what the
gateway serves passes `promtool check metrics` (Debian's `prometheus` package, installed by
scripts/setup-e2e.sh). Only this machine may read it, or a holder of CONDUIT_METRICS_TOKEN."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

MODEL = "claude-sonnet-4-6"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample line as (name, labels, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def total(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    return sum(v for n, ls, v in samples(text)
               if n == name and all(ls.get(k) == want for k, want in labels.items()))


def scrape(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url + "/metrics", headers=headers, timeout=10)


def promtool(text: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool not found: run scripts/setup-e2e.sh (apt package `prometheus`)")
    return subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=30)


def test_requests_move_the_counters_and_promtool_accepts_the_page(sim, gateway):
    sim.rule({"text": "Metered answer.", "chunk": 3})
    before = scrape(gateway.url)
    assert before.status_code == 200, before.text

    client = gateway.anthropic()
    client.messages.create(model=MODEL, max_tokens=64,
                           messages=[{"role": "user", "content": "count me"}])
    with client.messages.stream(model=MODEL, max_tokens=64,
                                messages=[{"role": "user", "content": "count me too"}]) as s:
        s.get_final_message()
    gateway.openai().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "and me"}])

    after = scrape(gateway.url)
    assert after.status_code == 200, after.text
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    checked = promtool(after.text)
    assert checked.returncode == 0, f"promtool:\n{checked.stdout}{checked.stderr}\n{after.text}"
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", checked

    def moved(text_before: str, text_after: str, name: str, **labels: str) -> float:
        return total(text_after, name, **labels) - total(text_before, name, **labels)

    messages = {"path": "/v1/messages", "model": MODEL, "status": "200"}
    assert moved(before.text, after.text, "conduit_requests_total", **messages) == 2
    chat = {"path": "/v1/chat/completions", "model": MODEL, "status": "200"}
    assert moved(before.text, after.text, "conduit_requests_total", **chat) == 1
    assert moved(before.text, after.text, "conduit_request_duration_seconds_count",
                 path="/v1/messages") == 2
    # No stream is left open once its answer ended.
    assert total(after.text, "conduit_open_streams") == 0


def test_metrics_are_for_this_machine_unless_a_token_is_set(gateway, start_gateway):
    # Through a proxy (a forwarding header), a loopback peer is someone else: without a
    # configured token the route is not served to them.
    hidden = scrape(gateway.url, **{"X-Forwarded-For": "192.0.2.7"})
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["type"] == "error"
    assert hidden.json()["error"]["type"] == "not_found_error"

    token = "metrics-scrape-token-e2e"
    gw = start_gateway({"CONDUIT_METRICS_TOKEN": token})
    remote = {"X-Forwarded-For": "192.0.2.7"}
    for auth in (None, "Bearer wrong-token", token):
        refused = scrape(gw.url, **remote, **({"Authorization": auth} if auth else {}))
        assert refused.status_code == 401, (auth, refused.text)
        assert refused.json()["error"]["type"] == "authentication_error"
    allowed = scrape(gw.url, **remote, Authorization=f"Bearer {token}")
    assert allowed.status_code == 200, allowed.text
    assert "# TYPE conduit_requests_total counter" in allowed.text
    # On this machine no token is needed.
    assert scrape(gw.url).status_code == 200
