"""The real Codex CLI (`@openai/codex`), headless (`codex exec`), doing one shell round trip.

Codex is configured with conduit as a custom model provider speaking the Responses API
(`wire_api = "responses"`), in a temp `CODEX_HOME`. Observed with codex-cli 0.169.0:

- one streaming `POST /v1/responses` per turn: `store: false`, `stream: true`,
  `include: ["reasoning.encrypted_content"]`, `reasoning: {"summary": "auto"}` (plus `effort`
  when `model_reasoning_effort` is set), `parallel_tool_calls: true`, `prompt_cache_key`,
  `client_metadata`, no `instructions`: the system prompt comes as two `developer` input
  messages, then two `user` messages (environment context, then the task);
- tools: function tools `exec_command` (`{"cmd": string, ...}` — the shell), `write_stdin`,
  `request_user_input`, `view_image`, `get_goal`, `create_goal`, `update_goal`, a `namespace`
  tool `multi_agent_v1` and `{"type": "web_search"}`; conduit forwards the functions and drops
  the other two;
- after running the command, a second request that replays the history and ends with the
  `function_call` and its `function_call_output` ("...Process exited with code 0...").

Off the network: `[analytics] enabled = false` stops the OTLP metrics to ab.chatgpt.com and
`[features] plugins = false` the curated-plugin sync (api.github.com, chatgpt.com); both were
seen as DNS lookups under strace without them. `request_max_retries = 0`,
`stream_max_retries = 0` and `features.unbounded_connection_retries = false` make a failure end
the run at once (an unreachable provider exits 1 in under a second) instead of retrying.
`--strict-config` makes Codex refuse any key this version does not know.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import tool_results
from test_anthropic_sdk import CONTEXT_OVERFLOW

CODEX = Path(__file__).parent / "node" / "node_modules" / ".bin" / "codex"
TASK = "Create the file codex_out.txt containing exactly: hello from codex"
COMMAND = "printf 'hello from codex' > codex_out.txt"
ANSWER = "Done."

CONFIG = """\
model = "gpt-5-codex"
model_provider = "conduit"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
unbounded_connection_retries = false

[model_providers.conduit]
name = "conduit"
base_url = "{base_url}"
env_key = "CONDUIT_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def run_codex(gateway, cwd: Path, prompt: str, timeout: float = 120) -> subprocess.CompletedProcess:
    if not CODEX.exists():
        pytest.fail(f"{CODEX} missing: run scripts/setup-e2e.sh")
    home = cwd.parent / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(CONFIG.format(base_url=gateway.url + "/v1"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "CONDUIT_KEY": gateway.key,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(CODEX), "exec", "--strict-config", "--skip-git-repo-check",
         "--dangerously-bypass-approvals-and-sandbox", "--color", "never",
         "--output-last-message", str(cwd.parent / "last-message.txt"), prompt],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def test_codex_runs_a_shell_command_through_conduit(sim, gateway, tmp_path):
    cwd = tmp_path / "project"
    cwd.mkdir()
    # Match on content and tool results only: any extra request Codex might make gets the sim's
    # default text and leaves these rules alone.
    sim.rule({"text": ANSWER}, id="answer",
             match={"has_tool_results": True, "tool_result_contains": "exited with code 0"})
    sim.rule({"tool_use": {"name": "exec_command", "input": {"cmd": COMMAND}}}, id="exec",
             match={"contains": "codex_out.txt", "has_tool_results": False})

    done = run_codex(gateway, cwd, TASK)

    assert done.returncode == 0, f"codex failed:\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert (cwd / "codex_out.txt").read_text() == "hello from codex"
    assert (tmp_path / "last-message.txt").read_text().strip() == ANSWER
    rules = [r.get("rule") for r in sim.chat_requests()]
    assert rules.count("exec") == 1 and rules.count("answer") == 1, rules
    asked = next(r for r in sim.chat_requests() if r.get("rule") == "exec")
    tools = [t["toolSpecification"]["name"]
             for t in asked["body"]["conversationState"]["currentMessage"]["userInputMessage"]
             ["userInputMessageContext"]["tools"]]
    assert "exec_command" in tools, tools
    answered = next(r for r in sim.chat_requests() if r.get("rule") == "answer")
    results = tool_results(answered)
    assert len(results) == 1 and results[0]["status"] == "success", results
    history = answered["body"]["conversationState"]["history"]
    assert history[-1]["assistantResponseMessage"]["toolUses"][0]["input"] == {"cmd": COMMAND}


def test_codex_reports_a_context_overflow(sim, gateway, tmp_path):
    """Conduit's error for a Kiro context overflow is one Codex recognises; the run fails fast."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    sim.rule(http_error=CONTEXT_OVERFLOW, id="overflow")

    done = run_codex(gateway, cwd, TASK, timeout=60)

    assert done.returncode != 0, done.stdout
    assert "context window" in done.stderr, done.stderr
    assert not (cwd / "codex_out.txt").exists()
    assert [r.get("rule") for r in sim.chat_requests()] == ["overflow"]
