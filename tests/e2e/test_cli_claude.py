"""The daemon CLI end to end with the real Claude Code: `conduit start` writes Claude Code's
settings, and `claude -p` then works with no ANTHROPIC_* variables in its environment at all —
only what `conduit start` wrote into ~/.claude/settings.json. Then `conduit stop`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import CONDUIT_BIN, free_port
from test_claude_code import CLAUDE


def daemon_cli(home: Path, sim, account):
    """The environment of a user whose HOME is `home`, with conduit pointed at the simulator and
    the account's token file, and a runner of the real `conduit` binary in it."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CONDUIT_HOME": str(home / ".conduit"),
        "CONDUIT_PORT": str(free_port()),
        "CONDUIT_NO_BROWSER": "1",
        "CONDUIT_KIRO_API_URL": sim.url,
        "CONDUIT_KIRO_AUTH_URL": sim.url,
        "CONDUIT_SSO_OIDC_URL": sim.url,
        "KIRO_CREDS_FILE": str(account.creds_file),
    }

    def conduit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(CONDUIT_BIN), *args], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    return env, conduit


def test_start_configures_claude_code_and_stop_stops(sim, account, tmp_path):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    settings = home / ".claude" / "settings.json"
    settings.write_text(json.dumps({"theme": "dark", "env": {"KEEP_ME": "1"}}))
    env, conduit = daemon_cli(home, sim, account)

    try:
        started = conduit("start")
        assert started.returncode == 0, started.stdout + started.stderr
        status = conduit("status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr

        written = json.loads(settings.read_text())
        assert written["theme"] == "dark" and written["env"]["KEEP_ME"] == "1"
        key = conduit("api-key", "--raw").stdout.strip()
        assert written["env"]["ANTHROPIC_AUTH_TOKEN"] == key and "ANTHROPIC_API_KEY" not in written["env"]
        assert written["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{env['CONDUIT_PORT']}"
        assert json.loads((home / ".claude" / "settings.json.conduit.bak").read_text())["theme"] == "dark"

        project = tmp_path / "project"
        project.mkdir()
        target = project / "from_settings.txt"
        sim.rule({"text": "Wrote it."}, id="answer",
                 match={"has_tool_results": True, "tool_result_contains": "from_settings.txt"})
        sim.rule({"tool_use": {"name": "Write", "input": {"file_path": str(target), "content": "via settings"}}},
                 id="write", match={"contains": "from_settings", "has_tool_results": False})
        claude_env = {k: v for k, v in env.items() if not k.startswith(("CONDUIT_", "KIRO_"))}
        claude_env.update({"DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
                           "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
        done = subprocess.run([str(CLAUDE), "-p", "Create from_settings.txt saying: via settings",
                               "--allowedTools", "Write"], cwd=project, env=claude_env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert target.read_text() == "via settings"
        assert "Wrote it." in done.stdout
    finally:
        stopped = conduit("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert conduit("status").returncode == 3
