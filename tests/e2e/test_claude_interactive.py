"""The first interactive run of the real Claude Code after `conduit start`, driven in tmux as a
hurried user would: Enter on every prompt, then a question, then the answer on screen.

Observed with 2.1.328 on a fresh HOME whose settings hold only what `conduit start` wrote:
the theme picker, the security notes ("Press Enter to continue"), the folder-trust question,
then the input box. With `ANTHROPIC_API_KEY` in the settings (what conduit used to write),
Claude Code instead asks "Detected a custom API key … use it?" defaulting to No, or goes on to
its own sign-in ("Unable to connect to Anthropic services"); with `ANTHROPIC_AUTH_TOKEN` it
asks nothing about the key.

The folder-trust question defaults to "No, exit" in 2.1.328. It is Claude Code's own safety
question about the working directory, which conduit must not answer for the user, so there
the user chooses "Yes, I trust this folder" (Down, Enter); on every other prompt, Enter.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import Tmux
from test_claude_code import CLAUDE
from test_cli_claude import daemon_cli

QUESTION = "What is the capital of Kiroland?"
ANSWER = "The capital of Kiroland is Conduitville."
# What Claude Code shows when the key is not used: none of it may ever appear.
REFUSALS = ("Detected a custom API key", "Not logged in", "Unable to connect to Anthropic",
            "Select login method", "Invalid API key", "API Error")


@pytest.mark.parametrize("before", ["fresh", "upgraded"])
def test_first_interactive_run_after_start_needs_no_extra_step(sim, account, tmp_path, before):
    """`fresh`: no Claude Code settings yet. `upgraded`: settings an earlier conduit wrote, with
    the key as ANTHROPIC_API_KEY, which `conduit start` turns into ANTHROPIC_AUTH_TOKEN."""
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    if shutil.which("tmux") is None:
        pytest.fail("tmux missing: run scripts/setup-e2e.sh")
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    env, conduit = daemon_cli(home, sim, account)

    sim.rule({"text": ANSWER}, match={"contains": "capital of Kiroland"})
    if before == "upgraded":
        key = conduit("api-key", "--raw").stdout.strip()
        (home / ".claude").mkdir()
        (home / ".claude" / "settings.json").write_text(json.dumps({"env": {
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{env['CONDUIT_PORT']}", "ANTHROPIC_API_KEY": key}}))
    tmux = None
    try:
        started = conduit("start")
        assert started.returncode == 0, started.stdout + started.stderr
        written = json.loads((home / ".claude" / "settings.json").read_text())["env"]
        assert "ANTHROPIC_API_KEY" not in written, written
        assert written["ANTHROPIC_AUTH_TOKEN"] == conduit("api-key", "--raw").stdout.strip()
        assert 100_000 <= int(written["CLAUDE_CODE_AUTO_COMPACT_WINDOW"]) <= 1_000_000

        # Claude Code sees only what `conduit start` wrote: no ANTHROPIC_* in its environment.
        claude_env = {
            "PATH": env["PATH"], "HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        tmux = Tmux(project, claude_env, [str(CLAUDE)])
        asked = False

        def react(screen: str) -> None:
            nonlocal asked
            if asked:
                return
            if "Yes, I trust this folder" in screen:
                tmux.keys("Down", "Enter")
            elif "shift+tab to cycle" in screen or "? for shortcuts" in screen:
                # The input box: the first run is over.
                tmux.type(QUESTION)
                tmux.keys("Enter")
                asked = True
            else:
                tmux.keys("Enter")

        tmux.drive(ANSWER, REFUSALS, react, 90)
        assert asked, "the answer appeared before the question was asked?"
        assert any("capital of Kiroland" in json.dumps(r.get("body")) for r in sim.chat_requests())
    finally:
        if tmux:
            tmux.kill()
        stopped = conduit("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
