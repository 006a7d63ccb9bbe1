"""The real Claude Code (`claude -p`) on an Opus-class model through conduit (issue 9):

- it shows native thinking (signed by the simulator) and finishes a multi-tool task — Write,
  then Read, then Edit — while every later turn replays the earlier reasoning, which the
  simulator verifies;
- a Kiro context overflow (`Input is too long.`) makes it compact the conversation and go on;
- a suspended Kiro account ends the run at once with the reason (a 403 permission_error; a 401
  made Claude Code take its own key for stale and retry in silence for over a minute).

Claude Code 2.1.328 names its model `claude-opus-5-5`; conduit maps it to Kiro's newest Opus.
Rules match on content and tool results, never on the model or the request count (see
test_claude_code.py). `--output-format stream-json --verbose` shows each assistant message
with its content blocks, thinking included.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import tool_results
from test_claude_code import CLAUDE


def claude(gateway, cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_AUTH_TOKEN": gateway.key,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run([str(CLAUDE), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def stream_json(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def blocks(events: list[dict]) -> list[dict]:
    """Every content block of every assistant message, in order."""
    return [b for e in events if e.get("type") == "assistant" for b in e["message"]["content"]]


def history(entry: dict) -> list[dict]:
    return entry["body"]["conversationState"].get("history", [])


def test_claude_code_thinks_and_writes_reads_edits_on_opus(sim, gateway, tmp_path):
    cwd = tmp_path / "project"
    cwd.mkdir()
    notes = cwd / "notes.txt"
    thoughts = {
        "write": "First create notes.txt with the first line.",
        "read": "Now read the file back to check it.",
        "edit": "The file holds the first line; replace it.",
        "answer": "All three steps are done.",
    }
    # Most specific first: each tool result names what the previous step did.
    sim.rule({"reasoning": thoughts["answer"], "signed": True}, {"text": "Done: notes.txt now says omega."},
             id="answer", match={"has_tool_results": True, "tool_result_contains": "has been updated"})
    sim.rule({"reasoning": thoughts["edit"], "signed": True},
             {"tool_use": {"name": "Edit", "input": {"file_path": str(notes), "old_string": "alpha",
                                                     "new_string": "omega"}}},
             id="edit", match={"has_tool_results": True, "tool_result_contains": "alpha"})
    sim.rule({"reasoning": thoughts["read"], "signed": True},
             {"tool_use": {"name": "Read", "input": {"file_path": str(notes)}}},
             id="read", match={"has_tool_results": True, "tool_result_contains": "File created successfully"})
    sim.rule({"reasoning": thoughts["write"], "signed": True},
             {"tool_use": {"name": "Write", "input": {"file_path": str(notes), "content": "alpha\n"}}},
             id="write", match={"contains": "notes.txt", "has_tool_results": False})

    done = claude(gateway, cwd, "-p", "Create notes.txt with the line alpha, read it back, then change alpha to omega.",
                  "--allowedTools", "Write,Read,Edit", "--output-format", "stream-json", "--verbose")

    assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert notes.read_text() == "omega\n"
    seen = blocks(stream_json(done.stdout))
    thinking = [b for b in seen if b["type"] == "thinking"]
    assert len(thinking) == 4, seen
    assert all(b.get("signature") for b in thinking), thinking
    # Claude Code asks for `display: "omitted"`; conduit shows the reasoning Kiro sent anyway.
    assert [b["thinking"] for b in thinking] == list(thoughts.values()), thinking
    assert [b["name"] for b in seen if b["type"] == "tool_use"] == ["Write", "Read", "Edit"]
    assert any(b["type"] == "text" and "now says omega" in b["text"] for b in seen)

    chats = sim.chat_requests()
    by_rule = {r["rule"]: r for r in chats if r.get("rule")}
    assert [r["rule"] for r in chats if r.get("rule")] == ["write", "read", "edit", "answer"], \
        [(r.get("rule"), r["status"]) for r in chats]
    assert all(r["status"] == 200 for r in chats), [(r.get("rule"), r["status"]) for r in chats]
    assert "File created successfully" in str(tool_results(by_rule["read"]))
    assert "alpha" in str(tool_results(by_rule["edit"]))
    assert "has been updated" in str(tool_results(by_rule["answer"]))
    # Native reasoning was asked for, and each earlier reasoning block went back nested and signed.
    assert by_rule["write"]["body"].get("additionalModelRequestFields", {}).get("output_config", {}).get("effort")
    replayed = [h["assistantResponseMessage"]["reasoningContent"]["reasoningText"]
                for h in history(by_rule["answer"])
                if "reasoningContent" in h.get("assistantResponseMessage", {})]
    assert [r["text"] for r in replayed] == [thoughts["write"], thoughts["read"], thoughts["edit"]], replayed
    assert all(r["signature"] for r in replayed)


def test_claude_code_compacts_after_kiro_input_too_long_and_continues(sim, gateway, tmp_path):
    cwd = tmp_path / "project"
    cwd.mkdir()
    long_answer = "The first part, told at length. " * 1500
    sim.rule({"text": "<analysis>Short.</analysis>\n<summary>The user started with FIRST-TURN and got a long "
                      "answer.</summary>"},
             id="summary", match={"contains": "summary of the conversation"})
    sim.rule(id="overflow", times=1, match={"contains": "SECOND-TURN"},
             http_error={"status": 400, "body": {"message": "Input is too long.",
                                                 "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}})
    sim.rule({"text": "Continued after compaction: DONE-7."}, id="after", match={"contains": "SECOND-TURN"})
    sim.rule({"text": long_answer}, id="long", match={"contains": "FIRST-TURN"})

    first = claude(gateway, cwd, "-p", "FIRST-TURN: tell me the first part.")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = claude(gateway, cwd, "-p", "--continue", "SECOND-TURN: go on.")

    assert second.returncode == 0, f"stdout:\n{second.stdout[-2000:]}\nstderr:\n{second.stderr[-2000:]}"
    assert "DONE-7" in second.stdout
    chats = sim.chat_requests()
    rules = [r.get("rule") for r in chats]
    assert "overflow" in rules and "summary" in rules and "after" in rules, rules
    overflow = rules.index("overflow")
    summary = rules.index("summary", overflow)
    after = rules.index("after", summary)
    assert chats[overflow]["status"] == 400
    # The follow-up carries the summary instead of the long history: shorter than what overflowed.
    size = [len(json.dumps(r["body"])) for r in chats]
    assert size[after] < size[overflow] - len(long_answer) // 2, (size[overflow], size[after])
    assert len(history(chats[after])) < len(history(chats[overflow]))


def test_claude_code_stops_at_once_on_a_suspended_account(sim, start_gateway, tmp_path):
    gw = start_gateway()
    cwd = tmp_path / "project"
    cwd.mkdir()
    sim.rule(http_error={"status": 403, "body": {
        "__type": "com.amazon.aws.codewhisperer#AccessDeniedException",
        "message": "Your User ID (d-9067c8a2f1) temporarily is suspended. We've locked your account as a "
                   "security precaution. To restore access, please contact our support team to verify your "
                   "identity: https://aws.amazon.com/contact-us/"}}, match={"contains": "suspended-run"})

    try:
        done = claude(gw, cwd, "-p", "suspended-run: hello", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("Claude Code was still retrying after 20 s")

    assert done.returncode != 0
    assert "suspended" in done.stdout + done.stderr
    assert len(sim.chat_requests()) == 1, "the suspended account is not asked again"
