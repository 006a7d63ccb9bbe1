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
import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from test_claude_code import CLAUDE
from test_cli_claude import daemon_cli

QUESTION = "What is the capital of Kiroland?"
ANSWER = "The capital of Kiroland is Conduitville."
# What Claude Code shows when the key is not used: none of it may ever appear.
REFUSALS = ("Detected a custom API key", "Not logged in", "Unable to connect to Anthropic",
            "Select login method", "Invalid API key", "API Error")


class Tmux:
    """One tmux server of our own (its own socket), with one pane running a command."""

    def __init__(self, cwd, env: dict[str, str], argv: list[str]):
        self.socket = f"conduit-e2e-{uuid.uuid4().hex[:8]}"
        # tmux passes its own environment to the pane's command only through `env`.
        command = shlex.join(["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv])
        self._tmux("new-session", "-d", "-s", "claude", "-x", "200", "-y", "50", "-c", str(cwd),
                   command + "; sleep 600")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "claude")

    def keys(self, *keys: str) -> None:
        for k in keys:
            self._tmux("send-keys", "-t", "claude", k)
            time.sleep(0.3)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "claude", "-l", text)
        time.sleep(0.3)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


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
        screens: list[str] = []
        asked = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(1.5)
            screen = tmux.screen()
            screens.append(screen)
            refused = [r for r in REFUSALS if r in screen]
            assert not refused, f"Claude Code refused the key ({refused}):\n{screen}"
            if ANSWER in screen:
                break
            if asked:
                continue
            if "Yes, I trust this folder" in screen:
                tmux.keys("Down", "Enter")
            elif "shift+tab to cycle" in screen or "? for shortcuts" in screen:
                # The input box: the first run is over.
                tmux.type(QUESTION)
                tmux.keys("Enter")
                asked = True
            else:
                tmux.keys("Enter")
        else:
            pytest.fail("no answer on screen within 90 s; the last screens:\n"
                        + "\n=====\n".join(screens[-3:]))
        assert asked, "the answer appeared before the question was asked?"
        assert any("capital of Kiroland" in json.dumps(r.get("body")) for r in sim.chat_requests())
    finally:
        if tmux:
            tmux.kill()
        stopped = conduit("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
