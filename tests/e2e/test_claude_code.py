"""The real Claude Code CLI, headless, doing one tool round trip through conduit.

Observed with 2.1.328 (see ../shared/spec/claude-code.md): `claude -p` sends one streaming
`POST /v1/messages?beta=true` with model `claude-opus-5-5`, 12 tools (`Write` among them) and a
`role: "system"` message after the user turn; after running the tool it sends a second request
whose last user turn is only the `tool_result` ("File created successfully at: <path> ...").
Rules therefore match on content and tool results, never on the model or the request count.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import tool_results

CLAUDE = Path(__file__).parent / "node" / "node_modules" / ".bin" / "claude"
ANSWER = "Done: wrote hello.txt"


def run_claude(gateway, cwd: Path, prompt: str, timeout: float = 120) -> subprocess.CompletedProcess:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": gateway.key,
        # Keep Claude Code off the internet: no telemetry, update checks or other side traffic.
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, "--allowedTools", "Write"],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def write_round_trip(sim, gateway, tmp_path: Path, content: str) -> Path:
    """Claude Code's Write round trip through `gateway`: the simulator scripted to write
    hello.txt with `content` (rule `write`), then to answer ANSWER once the tool result is back
    (rule `answer`); `claude -p` run, the file and the answer checked. Returns the project dir;
    the caller checks what its upstream saw."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    target = cwd / "hello.txt"
    sim.rule({"text": ANSWER}, id="answer",
             match={"has_tool_results": True, "tool_result_contains": "hello.txt"})
    sim.rule({"tool_use": {"name": "Write", "input": {"file_path": str(target), "content": content}}},
             id="write", match={"contains": content, "has_tool_results": False})

    done = run_claude(gateway, cwd, f"Create the file hello.txt containing exactly: {content}")

    assert done.returncode == 0, f"claude failed:\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert target.read_text() == content
    assert ANSWER in done.stdout
    return cwd


def test_claude_code_writes_a_file_through_conduit(sim, gateway, tmp_path):
    write_round_trip(sim, gateway, tmp_path, "hello from kiro")

    rules = [r.get("rule") for r in sim.chat_requests()]
    assert rules.count("write") == 1 and rules.count("answer") == 1, rules
    answered = next(r for r in sim.chat_requests() if r.get("rule") == "answer")
    assert "File created successfully" in str(tool_results(answered))


def test_claude_code_answers_after_thinking(sim, gateway, tmp_path):
    """Claude Code asks for adaptive thinking with display omitted; the thinking must not leak."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    sim.rule({"thinking": "Two plus two is four.", "chunk": 6}, {"text": "4"}, match={"contains": "What is 2+2"})

    done = run_claude(gateway, cwd, "What is 2+2? Answer with the number only.")

    assert done.returncode == 0, f"claude failed:\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.stdout.strip() == "4"
