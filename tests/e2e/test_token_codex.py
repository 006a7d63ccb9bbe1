"""The real Codex CLI (0.169.0) on a team gateway with `conduit token` as its token command
(docs/design-token.md §4): `[model_providers.conduit.auth] command = <conduit> args = ["token",
"--profile", P]` in a temp CODEX_HOME, the person signed in once with `conduit token login`
(Chromium), tokens in the real Secret Service.

Observed with 0.169.0 (`--strict-config` accepts the `auth` table): Codex runs the command
before its first request and sends its stdout as `Authorization: Bearer`; on a 401 it runs the
command once more and retries once.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from claude_gateway import verify_access_token
from test_codex import CODEX, CONFIG
from conftest import CONDUIT_BIN
from team_harness import MODEL
from token_harness import assert_nothing_leaked, logged_in, secrets_of

ANSWER = "Codex got this through conduit token."


def codex_config(base_url: str, profile: str) -> str:
    """test_codex's provider, its key from the token command instead of `env_key`, a model the
    team gateway serves."""
    config = CONFIG.format(base_url=base_url).replace('env_key = "CONDUIT_KEY"\n', "")
    # The team gateway's one upstream is Anthropic's API face: a model it serves.
    config = config.replace('model = "gpt-5-codex"', f'model = "{MODEL}"')
    assert "env_key" not in config and MODEL in config
    return config + (f'\n[model_providers.conduit.auth]\ncommand = "{CONDUIT_BIN}"\n'
                     f'args = ["token", "--profile", "{profile}"]\n')


def test_codex_exec_answers_through_the_team_gateway_with_conduit_token(sim, token_world):
    if not CODEX.exists():
        pytest.fail(f"{CODEX} missing: run scripts/setup-e2e.sh")
    world, gw = token_world, token_world.gw
    dev = world.dev()
    profile = f"codex-{uuid.uuid4().hex[:6]}"
    token = logged_in(world, dev, profile)
    _, claims = verify_access_token(gw.url, token)
    sim.rule({"text": ANSWER}, match={"contains": "codex question"})

    codex_home = dev.home / ".codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(codex_config(gw.url + "/v1", profile))
    project = dev.root / "project"
    project.mkdir()
    last = dev.root / "last-message.txt"
    done = subprocess.run(
        [str(CODEX), "exec", "--strict-config", "--skip-git-repo-check", "--color", "never",
         "--output-last-message", str(last), "Here is the codex question"],
        cwd=project, env=dev.env(CODEX_HOME=str(codex_home)), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, f"codex failed:\n{done.stdout}\n{done.stderr}"
    assert last.read_text().strip() == ANSWER
    # The request carried the helper's token: the gateway's access line names the sign-in.
    line = gw.access_line(f"tok:{claims['fid']}")
    assert line and "/v1/responses" in line, line
    asked = [c for c in sim.log() if "codex question" in str(c.get("body"))]
    assert asked and all(token not in str(c) for c in asked)
    assert len(dev.browser.opened()) == 1
    assert_nothing_leaked([gw], secrets_of(world, dev, profile, token))
