"""Spend in a real `conduit serve --team` process, through the real SDKs, with the simulator's
Anthropic API face upstream.

- Nothing lost: under load SIGTERM writes every ledger row still waiting (the flush interval is
  set far longer than the test, so only the shutdown flush can have written them); `kill -9`
  loses at most the documented window (`SPEND_FLUSH_MS`): every row older than the window when
  the process died is in the ledger.
- Budgets with real clients: an admin sets a spend limit with the Admin-API-compatible
  `/v1/organizations/spend_limits`; the member's first request crosses it mid-period and its
  stream runs to the end; the next request is refused with 429 `billing_error`,
  `x-should-retry: false` and `retry-after` (the anthropic SDK does not retry it; the openai SDK
  gets its own dialect); `count_tokens` still answers; `/me/spend` shows the spend.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import anthropic
import openai
import pytest

from team_harness import MODEL, team_gateway, unique, wait_until  # noqa: F401

SMALL = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def ledger_rows(gw, where: str = "1=1") -> int:
    db = gw.conduit_home / "data" / "team.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT COUNT(*) FROM spend WHERE {where}").fetchone()[0]
    finally:
        con.close()


def member_key(gw) -> tuple[str, dict]:
    team = gw.create_team(unique("t"))
    user = gw.create_user(unique("m"), team_id=team["id"])
    key = gw.create_key(unique("k"), user_id=user["id"])
    return key["key"], user


def test_sigterm_under_load_writes_every_row(team_gateway):
    gw = team_gateway(env={"SPEND_FLUSH_MS": "60000", "SPEND_BATCH_ROWS": "10000"})
    key, _ = member_key(gw)
    client = gw.anthropic(key, max_retries=0, timeout=30)
    ok = []
    failed = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                client.messages.create(**SMALL)
                with lock:
                    ok.append(1)
            except Exception as e:  # refused connections once the listener closed
                with lock:
                    failed.append(repr(e))
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(ok) >= 300, timeout=60, what="300 answered requests")
    gw.proc.popen.send_signal(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert gw.proc.popen.wait(timeout=60) == 0, gw.proc.output()[-3000:]
    gw.stopped = True
    rows = ledger_rows(gw, "path = '/v1/messages'")
    # Every answered request has its row; a request the server finished whose answer the
    # client did not read before the connection closed may add one more per worker.
    assert len(ok) <= rows <= len(ok) + len(threads), (rows, len(ok), failed[:3])


def test_kill_9_loses_at_most_the_flush_window(team_gateway):
    window_ms = 500
    gw = team_gateway(env={"SPEND_FLUSH_MS": str(window_ms)})
    key, _ = member_key(gw)
    client = gw.anthropic(key, max_retries=0, timeout=30)
    for _ in range(60):
        client.messages.create(**SMALL)
    # Older than the window by a wide margin: these must be written.
    time.sleep(3 * window_ms / 1000)
    boundary_ms = int(time.time() * 1000)
    late = 0
    for _ in range(40):
        client.messages.create(**SMALL)
        late += 1
    gw.proc.popen.send_signal(signal.SIGKILL)
    gw.proc.popen.wait(timeout=10)
    gw.stopped = True
    early_rows = ledger_rows(gw, f"path = '/v1/messages' AND at_ms < {boundary_ms}")
    all_rows = ledger_rows(gw, "path = '/v1/messages'")
    assert early_rows == 60, early_rows
    assert 60 <= all_rows <= 60 + late, all_rows


def test_budget_blocks_the_next_request_not_the_stream_in_flight(team_gateway):
    gw = team_gateway()
    admin = gw.admin
    key, user = member_key(gw)
    # A price that makes one small request cost more than the cap: $1,000 per million tokens.
    gw.call("PUT", f"/admin/prices/anthropic/{MODEL}", token=admin, expect=201, json={
        "input": "1000", "output": "1000", "cache_read": "1000", "write_5m": "1000",
        "write_1h": "1000"})
    limit = gw.call("POST", "/v1/organizations/spend_limits", token=admin, json={
        "scope": {"type": "user", "user_id": user["subject"]}, "period": "daily",
        "amount": "1"})
    assert limit["type"] == "spend_limit" and limit["id"].startswith("spl_"), limit
    assert limit["amount"] == "1" and limit["currency"] == "USD", limit

    client = gw.anthropic(key, max_retries=2, timeout=30)
    # Under the cap: admitted, and the stream runs to its end although it crosses the cap.
    with client.messages.stream(**{**SMALL, "max_tokens": 200,
                                   "messages": [{"role": "user", "content": "tell a long story"}]}
                                ) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert events[-1] == "message_stop" and final.stop_reason is not None, events[-3:]

    # The row reaches the in-memory totals at once: the next request is refused.
    with pytest.raises(anthropic.APIStatusError) as blocked:
        client.messages.create(**SMALL)
    r = blocked.value.response
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error"]["type"] == "billing_error", body
    msg = body["error"]["message"]
    assert msg.startswith("spend limit reached (daily; resets ") and msg.endswith(" UTC)"), msg
    assert r.headers["x-should-retry"] == "false"
    assert int(r.headers["retry-after"]) > 0
    # The SDK honoured x-should-retry: one refusal in the log, not three.
    refusals = [ln for ln in gw.proc.output().splitlines()
                if "status=429" in ln and "/v1/messages" in ln]
    assert len(refusals) <= 1, refusals

    with pytest.raises(openai.APIStatusError) as blocked_oa:
        gw.openai(key, max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert blocked_oa.value.status_code == 429
    assert blocked_oa.value.body["type"] == "billing_error", blocked_oa.value.body

    # count_tokens is never blocked.
    counted = client.messages.count_tokens(model=MODEL, messages=SMALL["messages"])
    assert counted.input_tokens > 0

    me = gw.call("GET", "/me/spend", token=key)
    daily = next(p for p in me["periods"] if p["period"] == "daily")
    assert float(daily["spent_usd"]) >= 0.01, me
    assert me["blocked"] is True, me

    # Raising the cap lets the member go on at once (this instance reloads on the write).
    gw.call("POST", "/v1/organizations/spend_limits", token=admin, json={
        "scope": {"type": "user", "user_id": user["subject"]}, "period": "daily",
        "amount": "1000000"})
    ok = client.messages.create(**SMALL)
    assert ok.content
